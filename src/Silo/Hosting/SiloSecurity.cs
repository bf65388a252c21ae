using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MetaNode.Grains.Security;
using MetaNode.Security;
using MetaNode.Silo.Persistence;
using Orleans.Configuration;
using Orleans.Connections.Security;

namespace MetaNode.Silo.Hosting;

/// <summary>TLS and access control, section <c>MetaNode:Tls</c>.</summary>
public sealed class SiloTlsOptions
{
    /// <summary>The cluster CA certificate (PEM file). Embedded default: <c>{data}/tls/ca.crt</c>, created on first start.</summary>
    public string? CaCertificate { get; set; }

    /// <summary>The cluster CA's private key (PEM file); silos issue identities with it and derive the internal-call secret from it.</summary>
    public string? CaKey { get; set; }

    /// <summary>This silo's certificate (PEM file), issued by the CA with OU=silo.</summary>
    public string? Certificate { get; set; }

    /// <summary>This silo's private key (PEM file).</summary>
    public string? Key { get; set; }

    /// <summary>No TLS and no access control: every client may do everything. Logged loudly at start; for development only.</summary>
    public bool Insecure { get; set; }

    /// <summary>Where the embedded silo places a copy of its admin identity for the CLI (<c>&lt;root&gt;/&lt;host&gt;_&lt;gateway port&gt;</c>); default <c>~/.metanode/identities</c>.</summary>
    public string? IdentityHome { get; set; }

    public bool HasFiles => !string.IsNullOrWhiteSpace(CaCertificate) || !string.IsNullOrWhiteSpace(CaKey) || !string.IsNullOrWhiteSpace(Certificate) || !string.IsNullOrWhiteSpace(Key);

    internal IEnumerable<string> Validate(SiloProfile profile)
    {
        if (!string.IsNullOrWhiteSpace(IdentityHome) && (profile == SiloProfile.Cluster || Insecure || HasFiles))
        {
            yield return "MetaNode:Tls:IdentityHome is used only by an embedded silo that makes its own CA and admin identity; remove it, or the certificate files / Insecure switch.";
        }

        if (Insecure)
        {
            yield break;
        }

        var files = new (string Key, string? Value)[] { ("CaCertificate", CaCertificate), ("CaKey", CaKey), ("Certificate", Certificate), ("Key", Key) };
        if (profile == SiloProfile.Cluster && !HasFiles)
        {
            yield return "The Cluster profile needs certificates: MetaNode:Tls:CaCertificate, CaKey, Certificate and Key (PEM files, e.g. from a Kubernetes Secret; `metanode-silo tls init --out DIR` makes them), or MetaNode:Tls:Insecure=true to run without TLS and access control.";
            yield break;
        }

        if (HasFiles)
        {
            foreach (var (key, value) in files)
            {
                // Whether the files exist and hold what they should is checked when the silo loads them (SiloSecurity.Prepare).
                if (string.IsNullOrWhiteSpace(value))
                {
                    yield return $"MetaNode:Tls:{key} is required when any MetaNode:Tls certificate file is set.";
                }
            }
        }
    }
}

/// <summary>The certificates a silo runs with, and the admin identity it made on first start (embedded profile).</summary>
public sealed class SiloSecurityMaterial(X509Certificate2 authority, X509Certificate2 silo, IdentityRecord? firstAdmin, string? adminDirectory)
{
    public X509Certificate2 Authority { get; } = authority;

    public X509Certificate2 Silo { get; } = silo;

    public IdentityRecord? FirstAdmin { get; } = firstAdmin;

    /// <summary>The admin identity's directory inside the silo's data directory (embedded profile).</summary>
    public string? AdminDirectory { get; } = adminDirectory;
}

public static class SiloSecurity
{
    public const string FirstAdminName = "admin";

    /// <summary>
    /// Loads the configured certificates or, in the embedded profile without any, creates on first start a CA, the
    /// silo's certificate and an admin identity under the data directory, and copies the identity to the identity home.
    /// Returns null when <see cref="SiloTlsOptions.Insecure"/> is set.
    /// </summary>
    public static SiloSecurityMaterial? Prepare(MetaNodeSiloOptions options)
    {
        var tls = options.Tls;
        if (tls.Insecure)
        {
            return null;
        }

        if (tls.HasFiles)
        {
            foreach (var (key, path) in new[] { ("CaCertificate", tls.CaCertificate!), ("CaKey", tls.CaKey!), ("Certificate", tls.Certificate!), ("Key", tls.Key!) })
            {
                if (!File.Exists(path))
                {
                    throw new InvalidOperationException($"MetaNode:Tls:{key} names '{path}', which does not exist.");
                }
            }

            var authority = ClusterCertificates.LoadWithKey(File.ReadAllText(tls.CaCertificate!), File.ReadAllText(tls.CaKey!));
            var silo = ClusterCertificates.LoadWithKey(File.ReadAllText(tls.Certificate!), File.ReadAllText(tls.Key!));
            if (!ClusterCertificates.IsIssuedBy(silo, authority, ClusterCertificates.SiloUnit))
            {
                throw new InvalidOperationException($"MetaNode:Tls:Certificate '{tls.Certificate}' is not a silo certificate (OU=silo) issued by the CA in '{tls.CaCertificate}', or it has expired.");
            }

            return new SiloSecurityMaterial(authority, silo, null, null);
        }

        return CreateEmbedded(options);
    }

    /// <summary>Writes a CA, a silo certificate for <paramref name="hosts"/> and an admin identity into <paramref name="directory"/> (for the cluster profile, e.g. a Kubernetes Secret).</summary>
    public static void Init(string directory, string clusterId, IReadOnlyList<string> hosts)
    {
        IdentityDirectory.CreatePrivateDirectory(directory);
        using var authority = ClusterCertificates.CreateAuthority(clusterId);
        using var silo = ClusterCertificates.IssueSilo(authority, hosts);
        IdentityDirectory.WritePrivateFile(Path.Combine(directory, "ca.crt"), authority.ExportCertificatePem());
        IdentityDirectory.WritePrivateFile(Path.Combine(directory, "ca.key"), ClusterCertificates.KeyPem(authority));
        IdentityDirectory.WritePrivateFile(Path.Combine(directory, "silo.crt"), silo.ExportCertificatePem());
        IdentityDirectory.WritePrivateFile(Path.Combine(directory, "silo.key"), ClusterCertificates.KeyPem(silo));
        IssueAdmin(authority, Path.Combine(directory, "admin"));
    }

    private static SiloSecurityMaterial CreateEmbedded(MetaNodeSiloOptions options)
    {
        var tlsDirectory = Path.Combine(options.DataDirectory, "tls");
        IdentityDirectory.CreatePrivateDirectory(tlsDirectory);
        string File(string name) => Path.Combine(tlsDirectory, name);

        X509Certificate2 authority;
        if (System.IO.File.Exists(File("ca.crt")) && System.IO.File.Exists(File("ca.key")))
        {
            authority = ClusterCertificates.LoadWithKey(System.IO.File.ReadAllText(File("ca.crt")), System.IO.File.ReadAllText(File("ca.key")));
        }
        else
        {
            authority = ClusterCertificates.CreateAuthority(options.ClusterId);
            IdentityDirectory.WritePrivateFile(File("ca.key"), ClusterCertificates.KeyPem(authority));
            IdentityDirectory.WritePrivateFile(File("ca.crt"), authority.ExportCertificatePem());
            System.IO.File.Delete(File("silo.crt"));
        }

        X509Certificate2? silo = null;
        if (System.IO.File.Exists(File("silo.crt")) && System.IO.File.Exists(File("silo.key")))
        {
            silo = ClusterCertificates.LoadWithKey(System.IO.File.ReadAllText(File("silo.crt")), System.IO.File.ReadAllText(File("silo.key")));
            if (!ClusterCertificates.IsIssuedBy(silo, authority, ClusterCertificates.SiloUnit) || silo.NotAfter.ToUniversalTime() < DateTime.UtcNow.AddDays(7))
            {
                silo.Dispose();
                silo = null;
            }
        }

        if (silo is null)
        {
            silo = ClusterCertificates.IssueSilo(authority, ["127.0.0.1", "::1", "localhost", options.AdvertisedAddress, Environment.MachineName]);
            IdentityDirectory.WritePrivateFile(File("silo.key"), ClusterCertificates.KeyPem(silo));
            IdentityDirectory.WritePrivateFile(File("silo.crt"), silo.ExportCertificatePem());
        }

        var adminDirectory = Path.Combine(options.DataDirectory, "identities", FirstAdminName);
        IdentityRecord record;
        if (IdentityDirectory.Exists(adminDirectory) && LoadsAgainst(adminDirectory, authority) is { } existing)
        {
            record = existing;
        }
        else
        {
            record = IssueAdmin(authority, adminDirectory);
        }

        var home = string.IsNullOrWhiteSpace(options.Tls.IdentityHome) ? IdentityDirectory.DefaultRoot : options.Tls.IdentityHome;
        var copy = IdentityDirectory.For("127.0.0.1", options.GatewayPort, home);
        IdentityDirectory.CreatePrivateDirectory(home);
        IdentityDirectory.Save(
            copy,
            System.IO.File.ReadAllText(Path.Combine(adminDirectory, IdentityDirectory.CertificateFile)),
            System.IO.File.ReadAllText(Path.Combine(adminDirectory, IdentityDirectory.KeyFile)),
            System.IO.File.ReadAllText(Path.Combine(adminDirectory, IdentityDirectory.AuthorityFile)),
            System.IO.File.ReadAllText(Path.Combine(adminDirectory, IdentityDirectory.CredentialFile)).Trim());
        return new SiloSecurityMaterial(authority, silo, record, adminDirectory);
    }

    private static IdentityRecord? LoadsAgainst(string directory, X509Certificate2 authority)
    {
        try
        {
            using var identity = IdentityDirectory.Load(directory);
            using var key = authority.GetECDsaPublicKey()!;
            if (!ClusterCertificates.IsIssuedBy(identity.Certificate, authority, ClusterCertificates.ClientUnit) ||
                !AccessCredential.TryVerify(identity.Credential, key, DateTimeOffset.UtcNow.AddDays(1), out var claims, out _))
            {
                return null;
            }

            return new IdentityRecord
            {
                Name = claims!.Name,
                Role = claims.Role,
                Serial = claims.Serial,
                IssuedAt = identity.Certificate.NotBefore.ToUniversalTime(),
                ExpiresAt = claims.ExpiresAt,
                IssuedBy = "silo",
            };
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static IdentityRecord IssueAdmin(X509Certificate2 authority, string directory)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var now = DateTimeOffset.UtcNow;
        using var certificate = ClusterCertificates.IssueClient(authority, FirstAdminName, AccessRole.Admin, key.ExportSubjectPublicKeyInfo(), now + AccessLimits.DefaultValidity);
        var record = new IdentityRecord
        {
            Name = FirstAdminName,
            Role = AccessRole.Admin,
            Serial = ClusterCertificates.SerialOf(certificate),
            IssuedAt = now,
            ExpiresAt = certificate.NotAfter.ToUniversalTime(),
            IssuedBy = "silo",
        };
        using var caKey = authority.GetECDsaPrivateKey()!;
        var credential = AccessCredential.Create(new CredentialClaims(record.Name, record.Role, record.Serial, record.ExpiresAt, CredentialClaims.ClientKind), caKey);
        IdentityDirectory.Save(directory, certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem(), authority.ExportCertificatePem(), credential);
        return record;
    }

    /// <summary>Mutual TLS on the silo and gateway ports, access control and the audit log.</summary>
    public static ISiloBuilder AddMetaNodeSecurity(this ISiloBuilder silo, MetaNodeSiloOptions options, SiloSecurityMaterial material)
    {
        var authority = material.Authority;
        silo.Configure<SiloConnectionOptions>(connections =>
        {
            // Silo port: only certificates of other silos (OU=silo). Gateway port: any certificate the cluster CA issued.
            connections.ConfigureSiloInboundConnection(b => b.UseServerTls(ServerTls(material, ClusterCertificates.SiloUnit)));
            connections.ConfigureGatewayInboundConnection(b => b.UseServerTls(ServerTls(material, unit: null)));
            connections.ConfigureSiloOutboundConnection(b => b.UseClientTls(new TlsOptions
            {
                LocalCertificate = material.Silo,
                RemoteCertificateValidation = (certificate, _, _) => ClusterCertificates.IsIssuedBy(certificate, authority, ClusterCertificates.SiloUnit),
            }));
        });

        silo.Services.AddSingleton(new AccessAuthority(authority));
        silo.Services.AddOptions<AccessControlOptions>().BindConfiguration("MetaNode:Access")
            .Validate(o => o.RevocationPollInterval > TimeSpan.Zero && o.RevocationPollInterval <= TimeSpan.FromMinutes(1), "MetaNode:Access:RevocationPollInterval must be more than 0 and at most 00:01:00.")
            .ValidateOnStart();
        silo.Services.AddSingleton<RevokedIdentities>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<RevokedIdentities>());
        silo.Services.AddSingleton<IAuditLog>(options.Profile == SiloProfile.Cluster
            ? new PostgresAuditLog(options.Database.ConnectionString!)
            : new SqliteAuditLog(Path.Combine(options.DataDirectory, "metanode.db")));
        silo.AddIncomingGrainCallFilter<AccessControlFilter>();
        silo.AddOutgoingGrainCallFilter<InternalCallFilter>();
        if (material.FirstAdmin is { } admin)
        {
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => new FirstAdminRecorder(sp.GetRequiredService<IGrainFactory>(), admin));
        }

        return silo;
    }

    private static TlsOptions ServerTls(SiloSecurityMaterial material, string? unit) => new()
    {
        LocalCertificate = material.Silo,
        RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
        ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
        RemoteCertificateValidation = (certificate, _, _) => ClusterCertificates.IsIssuedBy(certificate, material.Authority, unit),
    };

    /// <summary>Records the admin identity the embedded silo made, so <c>access list</c> shows it.</summary>
    private sealed class FirstAdminRecorder(IGrainFactory grains, IdentityRecord admin) : ILifecycleParticipant<ISiloLifecycle>
    {
        public void Participate(ISiloLifecycle lifecycle) =>
            lifecycle.Subscribe(nameof(FirstAdminRecorder), ServiceLifecycleStage.Active, ct => grains.GetGrain<IAccessGrain>(AccessKeys.Default).RecordIssuedAsync(admin, ct));
    }
}
