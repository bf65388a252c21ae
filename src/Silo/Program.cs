using MetaNode.Silo.Hosting;
using MetaNode.Silo.Persistence;
using MetaNode.Silo.Ui;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;

var builder = WebApplication.CreateBuilder(args);
var (secrets, secretFailures) = SecretFiles.Read(builder.Configuration);
foreach (var failure in secretFailures)
{
    Console.Error.WriteLine($"metanode-silo: invalid configuration: {failure}");
}

if (secretFailures.Count > 0)
{
    return 2;
}

builder.Configuration.AddInMemoryCollection(secrets);
MetaNodeSiloOptions options;
try
{
    options = builder.Configuration.ReadMetaNodeOptions();
}
catch (OptionsValidationException exception)
{
    foreach (var failure in exception.Failures)
    {
        Console.Error.WriteLine($"metanode-silo: invalid configuration: {failure}");
    }

    return 2;
}

// `metanode-silo db migrate`: apply the PostgreSQL schema and named queries, then exit.
if (args is ["db", "migrate", ..])
{
    if (string.IsNullOrWhiteSpace(options.Database.ConnectionString))
    {
        Console.Error.WriteLine("metanode-silo: db migrate needs MetaNode:Database:ConnectionString (or the MetaNode__Database__ConnectionString environment variable).");
        return 2;
    }

    using var loggerFactory = LoggerFactory.Create(b => b.AddConsole());
    await new PostgresMigrator(loggerFactory.CreateLogger<PostgresMigrator>()).MigrateAsync(options.Database.ConnectionString);
    Console.WriteLine("metanode-silo: database schema is up to date.");
    return 0;
}

// `metanode-silo backup restore FILE [--force]`: put a backup into the data directory before a start, then exit (src/Silo/Backup).
if (args is ["backup", "restore", ..])
{
    return await MetaNode.Silo.Backup.SiloRestore.RunAsync(args, builder.Configuration, Console.Out, Console.Error);
}

// `metanode-silo tls init --out DIR [--host H]...`: a cluster CA, a silo certificate and an admin identity for the cluster profile.
if (args is ["tls", "init", ..])
{
    var outIndex = Array.IndexOf(args, "--out");
    if (outIndex < 0 || outIndex + 1 >= args.Length)
    {
        Console.Error.WriteLine("metanode-silo: tls init needs --out DIR (and --host NAME-OR-IP for each name the silos are reached by).");
        return 2;
    }

    var hosts = args.Select((a, i) => (a, i)).Where(p => p.a == "--host" && p.i + 1 < args.Length).Select(p => args[p.i + 1]).ToList();
    SiloSecurity.Init(args[outIndex + 1], options.ClusterId, [.. hosts, "127.0.0.1", "localhost"]);
    Console.WriteLine($"metanode-silo: wrote ca.crt, ca.key, silo.crt, silo.key and the identity admin/ to {args[outIndex + 1]}");
    return 0;
}

if (options.Profile == SiloProfile.Cluster && options.Database.MigrateOnStart)
{
    using var loggerFactory = LoggerFactory.Create(b => b.AddConsole());
    await new PostgresMigrator(loggerFactory.CreateLogger<PostgresMigrator>()).MigrateAsync(options.Database.ConnectionString!);
}

SiloSecurityMaterial? security;
try
{
    security = SiloSecurity.Prepare(options);
}
catch (Exception ex) when (ex is InvalidOperationException or System.Security.Cryptography.CryptographicException or IOException)
{
    Console.Error.WriteLine($"metanode-silo: TLS: {ex.Message}");
    return 2;
}

MetaNodeSiloOptionsValidator.TryParseHostPort(options.HttpAddress, out var httpHost, out var httpPort);
if (options.HttpsAddress is not null && security is not null)
{
    // HTTPS with the silo's certificate; a client certificate the cluster CA issued identifies the caller (see HttpAccess).
    MetaNodeSiloOptionsValidator.TryParseHostPort(options.HttpsAddress, out var httpsHost, out var httpsPort);
    builder.WebHost.UseUrls($"http://{httpHost}:{httpPort}", $"https://{httpsHost}:{httpsPort}");
    builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(https =>
    {
        https.ServerCertificate = security.Silo;
        https.ClientCertificateMode = Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.AllowCertificate;
        https.ClientCertificateValidation = (certificate, _, _) => MetaNode.Security.ClusterCertificates.IsIssuedBy(certificate, security.Authority, MetaNode.Security.ClusterCertificates.ClientUnit);
    }));
}
else
{
    builder.WebHost.UseUrls($"http://{httpHost}:{httpPort}");
}

builder.ConfigureMetaNodeLogging(options);
builder.AddMetaNodeTelemetry(options);
builder.Host.UseOrleans(silo =>
{
    silo.AddMetaNode(options);
    if (security is not null)
    {
        silo.AddMetaNodeSecurity(options, security);
    }
});

var app = builder.Build();
if (security is null)
{
    var insecure = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MetaNode.Security");
    for (var i = 0; i < 3; i++)
    {
        insecure.LogCritical("MetaNode:Tls:Insecure is set: no TLS and no access control; anyone who reaches port {GatewayPort} may do everything. Never run this way outside development.", options.GatewayPort);
    }
}
else if (security.AdminDirectory is not null)
{
    app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MetaNode.Security")
        .LogInformation("Admin identity: {Directory} (the CLI finds its copy under ~/.metanode/identities or MetaNode:Tls:IdentityHome)", security.AdminDirectory);
}
if (security is not null)
{
    app.UseMetaNodeHttpAccess();
}

app.MapGet("/healthz", (SiloReadiness readiness) => readiness.IsActive
    ? Results.Ok(new { status = "ok", profile = options.Profile.ToString(), clusterId = options.ClusterId })
    : Results.Json(new { status = "starting" }, statusCode: StatusCodes.Status503ServiceUnavailable));
app.MapGet("/", () => Results.Redirect("/dashboard"));
app.MapIpfsGateway();
app.MapMetaNodeMetrics(options);
app.MapMetaNodeUi(dashboardPrefix: "/dashboard");
app.MapOrleansDashboard(routePrefix: "/dashboard");
app.LogWhenReady(options);
await app.RunAsync();
return 0;
