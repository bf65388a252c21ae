using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using MetaNode.Chain;
using MetaNode.Client;
using MetaNode.Grains.Runtime;
using MetaNode.Grains.Security;
using MetaNode.Security;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using Microsoft.Data.Sqlite;

namespace MetaNode.Tests.Security;

/// <summary>A real embedded silo process with TLS and access control, and identities of each role made with the CLI.</summary>
public sealed class AccessFixture : IAsyncLifetime
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "metanode-access", Guid.NewGuid().ToString("N")[..10]);

    public SiloProcess Silo { get; private set; } = null!;

    public string Identity(string name) => Path.Combine(Root, "identities", name);

    public int HttpsPort { get; } = LoopbackPorts.Free();

    public async Task InitializeAsync()
    {
        Silo = new SiloProcess(
            Path.Combine(Root, "data"),
            "--MetaNode:Chain:DevChain:Enabled=false",
            "--MetaNode:Access:RevocationPollInterval=00:00:00.500",
            $"--MetaNode:HttpsAddress=127.0.0.1:{HttpsPort}");
        await Silo.StartAsync();
        foreach (var (name, role) in new[] { ("viewer", "viewer"), ("operator", "operator"), ("second-admin", "admin") })
        {
            var granted = await Silo.Cli().RunAsync("access", "grant", "--name", name, "--role", role, "--out", Identity(name));
            Assert.True(granted.ExitCode == 0, granted.ToString());
        }
    }

    public async Task DisposeAsync()
    {
        await Silo.DisposeAsync();
        SiloProcess.KillWorkloadsUnder(Path.Combine(Root, "data"));
        try
        {
            Directory.Delete(Root, recursive: true);
            SiloProcess.DeleteSiloDirectories(Path.Combine(Root, "data"));
        }
        catch (IOException)
        {
        }
    }

    public Task<MetaNodeClient> ConnectAsync(string? identity, TimeSpan? timeout = null) =>
        MetaNodeClient.ConnectAsync(new MetaNodeClientOptions
        {
            Gateways = [Silo.Gateway],
            Identity = identity,
            IdentityHome = Path.Combine(Root, "no-default-identities"),
            ConnectTimeout = timeout ?? TimeSpan.FromSeconds(15),
        });
}

public sealed class AccessControlTests(AccessFixture fixture) : IClassFixture<AccessFixture>
{
    private const string Key = "access-test";

    /// <summary>Every grain interface a client could address, from the contracts assembly.</summary>
    private static readonly Type[] GrainInterfaces =
    [
        .. typeof(IVPodGrain).Assembly.GetTypes().Where(t => t.IsInterface && typeof(IGrainWithStringKey).IsAssignableFrom(t) && t != typeof(IGrainWithStringKey)),
    ];

    private static IEnumerable<(Type Interface, MethodInfo Method, AccessRequirement Requirement)> Methods() =>
        GrainInterfaces.SelectMany(i => i.GetMethods().Select(m => (i, m, AccessPolicy.For(m))));

    [Fact]
    public void EveryGrainMethod_DeclaresWhoMayCallIt_OnItselfOrItsInterface()
    {
        var undeclared = Methods()
            .Where(x => x.Method.GetCustomAttribute<RequiresRoleAttribute>() is null && x.Method.GetCustomAttribute<SiloOnlyAttribute>() is null &&
                        x.Interface.GetCustomAttribute<RequiresRoleAttribute>() is null && x.Interface.GetCustomAttribute<SiloOnlyAttribute>() is null)
            .Select(x => x.Requirement.Method)
            .ToList();
        Assert.Empty(undeclared);

        // The issue's list of silo-only parts, checked by name so a change of declaration shows here.
        Assert.All(typeof(IChainAccountGrain).GetMethods(), m => Assert.True(AccessPolicy.For(m).SiloOnly, m.Name));
        Assert.All(typeof(MetaNode.Orchestration.ILeaderLeaseGrain).GetMethods(), m => Assert.True(AccessPolicy.For(m).SiloOnly, m.Name));
        Assert.All(typeof(MetaNode.Placement.IPlacementLedgerGrain).GetMethods(), m => Assert.True(AccessPolicy.For(m).SiloOnly, m.Name));
        Assert.All(typeof(MetaNode.Federation.IValidatorWorkerGrain).GetMethods(), m => Assert.True(AccessPolicy.For(m).SiloOnly, m.Name));
        Assert.All(typeof(MetaNode.Federation.IComputeWorkerGrain).GetMethods(), m => Assert.True(AccessPolicy.For(m).SiloOnly, m.Name));
        Assert.True(AccessPolicy.For(typeof(IVPodRegistryGrain).GetMethod(nameof(IVPodRegistryGrain.UpsertAsync))!).SiloOnly);
        Assert.True(AccessPolicy.For(typeof(MetaNode.Federation.IFederatedJobGrain).GetMethod(nameof(MetaNode.Federation.IFederatedJobGrain.SubmitUpdateAsync))!).SiloOnly);
        Assert.Equal(AccessRole.Admin, AccessPolicy.For(typeof(IChainGrain).GetMethod(nameof(IChainGrain.DeployRegistryAsync))!).Role);
        Assert.Equal(AccessRole.Admin, AccessPolicy.For(typeof(MetaNode.Clusters.IVPodClusterGrain).GetMethod(nameof(MetaNode.Clusters.IVPodClusterGrain.ReconcileAsync))!).Role);
        Assert.Equal(AccessRole.Operator, AccessPolicy.For(typeof(IVPodGrain).GetMethod(nameof(IVPodGrain.CreateAsync))!).Role);
    }

    [Fact]
    public async Task Viewer_ReadsEverything_AndEveryMutatingOrSiloOnlyMethodIsRefused_AndAudited_AndChangesNothing()
    {
        await using var admin = await fixture.ConnectAsync(fixture.Silo.AdminIdentity);
        await using var viewer = await fixture.ConnectAsync(fixture.Identity("viewer"));
        var vpodsBefore = await admin.ListVPodsAsync();
        var clustersBefore = await admin.ListClustersAsync();
        var jobsBefore = await admin.ListJobsAsync();
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);

        var refusedDirect = new List<string>();
        var refusedOneWay = new List<string>();
        foreach (var (type, method, requirement) in Methods())
        {
            var error = await CallAsync(viewer, type, method);
            if (requirement.SiloOnly || requirement.Role > AccessRole.Viewer)
            {
                if (IsOneWay(method))
                {
                    refusedOneWay.Add(requirement.Method);
                }
                else
                {
                    var denied = Assert.IsType<PermissionDeniedException>(error);
                    Assert.Equal($"permission denied: {requirement.Method} needs {requirement.Needs}", denied.Message[..denied.Message.IndexOf(" (", StringComparison.Ordinal)]);
                    refusedDirect.Add(requirement.Method);
                }
            }
            else
            {
                Assert.False(error is PermissionDeniedException, $"{requirement.Method} is a read a viewer may do, but: {error?.Message}");
            }
        }

        Assert.Contains("IVPodGrain.Create", refusedDirect);
        Assert.Contains("IChainGrain.Deploy", refusedDirect);
        Assert.Contains("IChainAccountGrain.FinalizeRound", refusedDirect);
        Assert.Contains("IAccessGrain.Grant", refusedDirect);

        // Nothing changed, and every refusal (one-way calls included, whose caller hears nothing) is in the audit log.
        Assert.Equal(vpodsBefore.Count, (await admin.ListVPodsAsync()).Count);
        Assert.Equal(clustersBefore.Count, (await admin.ListClustersAsync()).Count);
        Assert.Equal(jobsBefore.Count, (await admin.ListJobsAsync()).Count);
        var audit = await Eventually.WaitAsync(
            () => admin.ListAuditAsync(new AuditQuery { Since = since, Identity = "viewer", Limit = 10_000 }),
            entries => refusedDirect.Concat(refusedOneWay).All(m => entries.Any(e => e.Method == m && e.Outcome.StartsWith("denied", StringComparison.Ordinal))),
            "a denial in the audit log for every refused method");
        Assert.All(audit, e => Assert.StartsWith("denied: ", e.Outcome, StringComparison.Ordinal));
        Assert.Contains(audit, e => e.Method == "IVPodGrain.Create" && e.Target == Key);
    }

    [Fact]
    public async Task SiloOnlyMethods_AreRefusedToAdmins_Too()
    {
        await using var admin = await fixture.ConnectAsync(fixture.Silo.AdminIdentity);
        foreach (var (type, method, requirement) in Methods().Where(x => x.Requirement.SiloOnly && !IsOneWay(x.Method)))
        {
            var error = await CallAsync(admin, type, method);
            Assert.True(error is PermissionDeniedException, $"{requirement.Method} is for silos only, but an admin got: {error?.GetType().Name} {error?.Message}");
        }
    }

    [Fact]
    public async Task Operator_ManagesVPods_ButCannotDeployARegistryOrGrantAccess_WhileAnAdminCan()
    {
        await using var @operator = await fixture.ConnectAsync(fixture.Identity("operator"));
        var created = await @operator.DeployVPodAsync(new VPodSpec
        {
            Name = "op-made",
            Type = VPodType.Compute,
            CpuMillis = 100,
            MemoryBytes = 64L << 20,
            Command = ["sh", "-c", "sleep 600"],
            Env = new Dictionary<string, string> { ["API_TOKEN"] = "s3cret-value" },
        });
        Assert.Equal("op-made", created.Name);

        // Environment values show only to admins; the others see the names.
        await using var viewer = await fixture.ConnectAsync(fixture.Identity("viewer"));
        await using var admin = await fixture.ConnectAsync(fixture.Identity("second-admin"));
        Assert.Equal("***", created.Spec!.Env["API_TOKEN"]);
        Assert.Equal("***", (await viewer.CheckVPodStatusAsync(created.Id)).Spec!.Env["API_TOKEN"]);
        Assert.Equal("s3cret-value", (await admin.CheckVPodStatusAsync(created.Id)).Spec!.Env["API_TOKEN"]);
        var raw = viewer.GrainFactory.GetGrain<IVPodGrain>(created.Id);
        Assert.Equal("***", (await raw.GetStatusIfChangedAsync(Guid.Empty))!.Status.Spec!.Env["API_TOKEN"]);
        Assert.Equal("***", (await raw.GetStatusAsync()).Spec!.Env["API_TOKEN"]);
        Assert.Equal("***", (await viewer.CheckVPodStatusAsync(created.Id)).Spec!.Env["API_TOKEN"]);
        await @operator.ManageVPodAsync(created.Id, Client.VPodAction.Delete, new StopOptions { Force = true });

        var deploy = await Assert.ThrowsAsync<PermissionDeniedException>(() => @operator.DeployRegistryAsync(new MetaNode.Chain.DeployRegistryCommand { Threshold = 1 }));
        Assert.StartsWith("permission denied: IChainGrain.Deploy needs admin", deploy.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<PermissionDeniedException>(() => @operator.GrantAccessAsync(new GrantRequest { Name = "sneaky", Role = AccessRole.Admin, PublicKey = NewPublicKey() }));

        // An admin passes the check: the call reaches the chain grain (this silo runs no chain, so the chain says so).
        var reached = await Record.ExceptionAsync(() => admin.DeployRegistryAsync(new MetaNode.Chain.DeployRegistryCommand { Threshold = 1 }));
        Assert.False(reached is PermissionDeniedException, reached?.Message);
        var issued = await admin.GrantAccessAsync(new GrantRequest { Name = "made-by-second-admin", Role = AccessRole.Viewer, PublicKey = NewPublicKey() });
        Assert.Equal("second-admin", issued.Record.IssuedBy);
        Assert.DoesNotContain(await admin.ListAccessAsync(), r => r.Name == "sneaky");
    }

    [Fact]
    public async Task NoCertificate_AnotherClustersCertificate_OrAPlainTcpClient_CannotConnect()
    {
        var none = await Assert.ThrowsAsync<MetaNodeConnectionException>(() => fixture.ConnectAsync(null, TimeSpan.FromSeconds(3)));
        Assert.Contains("no identity was used", none.Message, StringComparison.Ordinal);

        var foreign = ClusterTls.Create(Path.Combine(fixture.Root, "foreign-" + Guid.NewGuid().ToString("N")[..6]));
        await Assert.ThrowsAsync<MetaNodeConnectionException>(() => fixture.ConnectAsync(foreign.AdminIdentity, TimeSpan.FromSeconds(3)));

        // A plain TCP client that speaks Orleans' preamble gets no Orleans answer on either port: at most a TLS alert, then the close.
        foreach (var port in new[] { fixture.Silo.GatewayPort, fixture.Silo.SiloPort })
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            var stream = tcp.GetStream();
            var preamble = new byte[64];
            BitConverter.TryWriteBytes(preamble, 60);
            await stream.WriteAsync(preamble);
            var received = new List<byte>();
            var buffer = new byte[4096];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                int read;
                while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
                {
                    received.AddRange(buffer.AsSpan(0, read).ToArray());
                }
            }
            catch (IOException)
            {
                // reset by the server
            }

            Assert.True(received.Count == 0 || received[0] == 0x15, $"port {port} answered a plain client with {received.Count} bytes: {Convert.ToHexString([.. received.Take(16)])}");
        }
    }

    [Fact]
    public async Task OpenSsl_SeesTheSilosCertificate_OnTheGateway_AndItIsRefusedWithoutAClientCertificate()
    {
        var admin = fixture.Silo.AdminIdentity!;
        var (output, _) = await RunAsync("openssl", "s_client", "-connect", $"127.0.0.1:{fixture.Silo.GatewayPort}", "-CAfile", Path.Combine(admin, "ca.crt"),
            "-cert", Path.Combine(admin, "identity.crt"), "-key", Path.Combine(admin, "identity.key"), "-verify_return_error", "-brief");
        Assert.Contains("CN = metanode-silo", output, StringComparison.Ordinal);
        Assert.Contains("Verification: OK", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForgedExpiredOrSmuggledCredentials_AreRefused()
    {
        var ca = Path.Combine(fixture.Silo.DataDirectory, "tls");
        using var caKey = ECDsa.Create();
        caKey.ImportFromPem(await File.ReadAllTextAsync(Path.Combine(ca, "ca.key")));
        var admin = fixture.Silo.AdminIdentity!;
        using var adminIdentity = IdentityDirectory.Load(admin);
        var serial = ClusterCertificates.SerialOf(adminIdentity.Certificate);

        // Signed by the right key but expired; signed by another key; the admin's, altered to say viewer→admin for the viewer.
        var expired = AccessCredential.Create(new CredentialClaims("admin", AccessRole.Admin, serial, DateTimeOffset.UtcNow.AddMinutes(-1), CredentialClaims.ClientKind), caKey);
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var forged = AccessCredential.Create(new CredentialClaims("admin", AccessRole.Admin, serial, DateTimeOffset.UtcNow.AddDays(1), CredentialClaims.ClientKind), otherKey);
        var viewerCredential = (await File.ReadAllTextAsync(Path.Combine(fixture.Identity("viewer"), "credential"))).Trim();
        var parts = viewerCredential.Split('.');
        var claims = Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1])).Replace("\"viewer\"", "\"admin\"", StringComparison.Ordinal);
        var altered = $"{parts[0]}.{System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(claims))}.{parts[2]}";

        foreach (var (name, credential, reason) in new[] { ("expired", expired, "expired"), ("forged", forged, "signature"), ("altered", altered, "signature") })
        {
            var directory = Path.Combine(fixture.Root, "bad-" + name);
            IdentityDirectory.Save(directory, adminIdentity.Certificate.ExportCertificatePem(), await File.ReadAllTextAsync(Path.Combine(admin, "identity.key")), adminIdentity.Authority.ExportCertificatePem(), credential);
            await using var client = await fixture.ConnectAsync(directory);
            var error = await Assert.ThrowsAsync<PermissionDeniedException>(() => client.ListVPodsAsync());
            Assert.Contains(reason, error.Message, StringComparison.Ordinal);

            // Even the empty calls, which any viewer may make, pass the same check: the stateless one and the placed one.
            error = await Assert.ThrowsAsync<PermissionDeniedException>(() => client.GrainFactory.GetGrain<IPingGrain>(PingKeys.Default).PingAsync());
            Assert.Contains(reason, error.Message, StringComparison.Ordinal);
            error = await Assert.ThrowsAsync<PermissionDeniedException>(() => client.GrainFactory.GetGrain<IPingGrain>(PingKeys.Placed(0)).PingAsync());
            Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        }

        // A client that sets the silos' internal marker and a caller name itself, with a viewer credential, is still a viewer.
        await using var viewer = await fixture.ConnectAsync(fixture.Identity("viewer"));
        await viewer.GrainFactory.GetGrain<IPingGrain>(PingKeys.Default).PingAsync();
        var placed = viewer.GrainFactory.GetGrain<IPingGrain>(PingKeys.Placed(PingKeys.PlacedKeys - 1));
        await placed.PingAsync();

        // Placed ping grains exist under 1,024 keys only: any other key is refused, so callers cannot fill a silo with them.
        foreach (var key in new[] { "1024", "01", "-1", "+1", "viewer" })
        {
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => viewer.GrainFactory.GetGrain<IPingGrain>(GrainId.Create(PingKeys.PlacedType, key)).PingAsync());
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => PingKeys.Placed(PingKeys.PlacedKeys));
        Assert.Equal((PingKeys.GatewayType, PingKeys.PlacedType), (viewer.GrainFactory.GetGrain<IPingGrain>(PingKeys.Default).GetGrainId().Type.ToString(), placed.GetGrainId().Type.ToString()));
        RequestContext.Set(AccessControlFilter.InternalKey, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        RequestContext.Set(AccessControlFilter.CallerKey, "admin");
        try
        {
            await Assert.ThrowsAsync<PermissionDeniedException>(() => viewer.GrainFactory.GetGrain<IAccessGrain>(AccessKeys.Default).ListAsync());
        }
        finally
        {
            RequestContext.Clear();
        }
    }

    [Fact]
    public async Task ARevokedIdentity_IsRefusedWithinSeconds()
    {
        var directory = Path.Combine(fixture.Root, "identities", "soon-revoked");
        var granted = await fixture.Silo.Cli().RunAsync("access", "grant", "--name", "soon-revoked", "--role", "operator", "--out", directory);
        Assert.True(granted.ExitCode == 0, granted.ToString());
        await using var client = await fixture.ConnectAsync(directory);
        await client.ListVPodsAsync();

        var revoked = await fixture.Silo.Cli().RunAsync("access", "revoke", "--name", "soon-revoked");
        Assert.True(revoked.ExitCode == 0, revoked.ToString());
        var error = await Eventually.WaitAsync(async () => await Record.ExceptionAsync(() => client.ListVPodsAsync()), e => e is PermissionDeniedException, "the revoked identity to be refused", TimeSpan.FromSeconds(10));
        Assert.Contains("revoked", error!.Message, StringComparison.Ordinal);

        var listed = await fixture.Silo.Cli().JsonAsync("access", "list");
        Assert.Contains(listed.EnumerateArray(), r => r.GetProperty("name").GetString() == "soon-revoked" && r.GetProperty("revokedAt").ValueKind != System.Text.Json.JsonValueKind.Null);
    }

    [Fact]
    public async Task AnIdentityMadeOfflineWithTheCaKey_IsRevokedBySerial()
    {
        // What `metanode-silo tls init` does for the cluster profile's first admin: the CA key signs, no grain records it.
        var tls = Path.Combine(fixture.Silo.DataDirectory, "tls");
        using var authority = ClusterCertificates.LoadWithKey(await File.ReadAllTextAsync(Path.Combine(tls, "ca.crt")), await File.ReadAllTextAsync(Path.Combine(tls, "ca.key")));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = ClusterCertificates.IssueClient(authority, "offline-admin", AccessRole.Admin, key.ExportSubjectPublicKeyInfo(), DateTimeOffset.UtcNow.AddDays(1));
        var serial = ClusterCertificates.SerialOf(certificate);
        using var caKey = authority.GetECDsaPrivateKey()!;
        var directory = Path.Combine(fixture.Root, "offline-admin");
        IdentityDirectory.Save(directory, certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem(), authority.ExportCertificatePem(),
            AccessCredential.Create(new CredentialClaims("offline-admin", AccessRole.Admin, serial, DateTimeOffset.UtcNow.AddDays(1), CredentialClaims.ClientKind), caKey));
        await using var client = await fixture.ConnectAsync(directory);
        await client.ListAccessAsync();

        // As openssl prints it: upper case, with a leading zero.
        var revoked = await fixture.Silo.Cli().RunAsync("access", "revoke", "--serial", "0" + serial.ToUpperInvariant());
        Assert.True(revoked.ExitCode == 0, revoked.ToString());
        var error = await Eventually.WaitAsync(async () => await Record.ExceptionAsync(() => client.ListAccessAsync()), e => e is PermissionDeniedException, "the offline identity to be refused", TimeSpan.FromSeconds(10));
        Assert.Contains("revoked", error!.Message, StringComparison.Ordinal);
        Assert.Equal(2, (await fixture.Silo.Cli().RunAsync("access", "revoke", "--serial", "xyz")).ExitCode);
        Assert.Equal(2, (await fixture.Silo.Cli().RunAsync("access", "revoke")).ExitCode);
    }

    [Fact]
    public async Task TheCli_RefusesAViewersCreate_WithPermissionDenied_AndTheAuditListShowsIt()
    {
        var viewer = new CliRunner("--gateway", fixture.Silo.Gateway, "--identity", fixture.Identity("viewer"));
        Assert.Equal(0, (await viewer.RunAsync("vpod", "list")).ExitCode);
        var create = await viewer.RunAsync("vpod", "create", "--name", "not-allowed", "--type", "compute", "--cpu", "100m", "--memory", "64Mi");
        Assert.Equal(1, create.ExitCode);
        Assert.StartsWith("error: permission denied: IVPodGrain.Create needs operator", create.Stderr, StringComparison.Ordinal);

        var audit = await fixture.Silo.Cli().JsonAsync("audit", "list", "--identity-name", "viewer", "--since", "10m");
        var entry = audit.EnumerateArray().Last(e => e.GetProperty("method").GetString() == "IVPodGrain.Create");
        Assert.Equal("viewer", entry.GetProperty("identity").GetString());
        Assert.StartsWith("denied: ", entry.GetProperty("outcome").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("vpod-", entry.GetProperty("target").GetString(), StringComparison.Ordinal);
        Assert.True(DateTimeOffset.Parse(entry.GetProperty("time").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddMinutes(-10));

        var notAdmin = await viewer.RunAsync("audit", "list");
        Assert.Equal(1, notAdmin.ExitCode);
        Assert.Contains("needs admin", notAdmin.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheAuditLog_RefusesUpdatesAndDeletes_EvenInTheDatabase()
    {
        await fixture.Silo.Cli().JsonAsync("vpod", "list");
        var viewer = new CliRunner("--gateway", fixture.Silo.Gateway, "--identity", fixture.Identity("viewer"));
        await viewer.RunAsync("chain", "deploy");
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(fixture.Silo.DataDirectory, "metanode.db")}");
        await connection.OpenAsync();
        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT count(*) FROM audit_log";
        var rows = (long)(await count.ExecuteScalarAsync())!;
        Assert.True(rows > 0);
        foreach (var sql in new[] { "UPDATE audit_log SET outcome = 'ok'", "DELETE FROM audit_log" })
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            var error = await Assert.ThrowsAsync<SqliteException>(() => command.ExecuteNonQueryAsync());
            Assert.Contains("append-only", error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(rows, (long)(await count.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task TheDashboard_NeedsAToken_WhileHealthzIsOpen()
    {
        using var http = new HttpClient(new HttpClientHandler { UseCookies = true, CookieContainer = new CookieContainer() });
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(fixture.Silo.HttpBase, "/healthz"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(new Uri(fixture.Silo.HttpBase, "/dashboard"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(new Uri(fixture.Silo.HttpBase, "/dashboard/index.min.js"))).StatusCode);

        using var forged = new HttpRequestMessage(HttpMethod.Get, new Uri(fixture.Silo.HttpBase, "/dashboard"));
        forged.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(Path.Combine(fixture.Identity("viewer"), "credential"))).Trim() + "x");
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(forged)).StatusCode);

        var token = (await fixture.Silo.Cli().JsonAsync("access", "token", "--name", "viewer", "--valid-for", "1h")).GetProperty("token").GetString()!;
        using var login = await http.GetAsync(new Uri(fixture.Silo.HttpBase, "/login?token=" + Uri.EscapeDataString(token)));
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        Assert.Equal("/dashboard", login.RequestMessage!.RequestUri!.AbsolutePath.TrimEnd('/'));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(fixture.Silo.HttpBase, "/dashboard"))).StatusCode);
    }

    [Fact]
    public async Task Https_ServesTheSilosCertificate_AndAClusterClientCertificateOpensTheDashboard_WhileAForeignOneCannot()
    {
        using var ca = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Path.Combine(fixture.Silo.AdminIdentity!, "ca.crt")));
        var https = new Uri($"https://127.0.0.1:{fixture.HttpsPort}");
        string? serverSubject = null;
        HttpClient Client(X509Certificate2? certificate)
        {
            var handler = new HttpClientHandler
            {
                ServerCertificateCustomValidationCallback = (_, server, _, _) =>
                {
                    serverSubject = server!.Subject;
                    return ClusterCertificates.IsIssuedBy(server, ca, ClusterCertificates.SiloUnit);
                },
            };
            if (certificate is not null)
            {
                handler.ClientCertificateOptions = ClientCertificateOption.Manual;
                handler.ClientCertificates.Add(certificate);
            }

            return new HttpClient(handler);
        }

        using (var anonymous = Client(null))
        {
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(new Uri(https, "/healthz"))).StatusCode);
            Assert.Contains("CN=metanode-silo", serverSubject, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(new Uri(https, "/dashboard"))).StatusCode);
        }

        using var viewer = IdentityDirectory.Load(fixture.Identity("viewer"));
        using (var withCertificate = Client(viewer.Certificate))
        {
            Assert.Equal(HttpStatusCode.OK, (await withCertificate.GetAsync(new Uri(https, "/dashboard"))).StatusCode);
        }

        var foreign = ClusterTls.Create(Path.Combine(fixture.Root, "foreign-https-" + Guid.NewGuid().ToString("N")[..6]));
        using var foreignIdentity = IdentityDirectory.Load(foreign.AdminIdentity);
        using var withForeign = Client(foreignIdentity.Certificate);
        var refused = await Record.ExceptionAsync(async () =>
        {
            using var response = await withForeign.GetAsync(new Uri(https, "/dashboard"));
            Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
        });
        Assert.True(refused is null or HttpRequestException, refused?.ToString());
    }

    private static bool IsOneWay(MethodInfo method) => method.GetCustomAttribute<Orleans.Concurrency.OneWayAttribute>() is not null;

    private static byte[] NewPublicKey()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return key.ExportSubjectPublicKeyInfo();
    }

    /// <summary>Calls a grain method with default arguments through the client's grain factory (no client-side check); returns what it threw.</summary>
    private static async Task<Exception?> CallAsync(MetaNodeClient client, Type grainInterface, MethodInfo method)
    {
        var grain = client.GrainFactory.GetGrain(grainInterface, Key);
        var args = method.GetParameters().Select(p => p.HasDefaultValue ? p.DefaultValue : p.ParameterType.IsValueType ? Activator.CreateInstance(p.ParameterType) : null).ToArray();
        try
        {
            var result = method.Invoke(grain, args);
            switch (result)
            {
                case Task task:
                    await task.WaitAsync(TimeSpan.FromSeconds(30));
                    break;
                case not null when method.ReturnType.IsGenericType && method.ReturnType.GetGenericTypeDefinition() == typeof(IAsyncEnumerable<>):
                    var enumerator = method.ReturnType.GetMethod("GetAsyncEnumerator")!.Invoke(result, [CancellationToken.None])!;
                    var moveNext = (ValueTask<bool>)enumerator.GetType().GetMethod("MoveNextAsync")!.Invoke(enumerator, null)!;
                    await moveNext.AsTask().WaitAsync(TimeSpan.FromSeconds(30));
                    break;
            }

            return null;
        }
        catch (TargetInvocationException ex)
        {
            return ex.InnerException;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }

    private static async Task<(string Output, int Exit)> RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return (await stdout + await stderr, process.ExitCode);
    }
}
