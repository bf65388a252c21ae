using MetaNode.Silo.Hosting;
using MetaNode.Silo.Persistence;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;

var builder = WebApplication.CreateBuilder(args);
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

if (options.Profile == SiloProfile.Cluster && options.Database.MigrateOnStart)
{
    using var loggerFactory = LoggerFactory.Create(b => b.AddConsole());
    await new PostgresMigrator(loggerFactory.CreateLogger<PostgresMigrator>()).MigrateAsync(options.Database.ConnectionString!);
}

MetaNodeSiloOptionsValidator.TryParseHostPort(options.HttpAddress, out var httpHost, out var httpPort);
builder.WebHost.UseUrls($"http://{httpHost}:{httpPort}");
builder.Host.UseOrleans(silo => silo.AddMetaNode(options));

var app = builder.Build();
app.MapGet("/healthz", (SiloReadiness readiness) => readiness.IsActive
    ? Results.Ok(new { status = "ok", profile = options.Profile.ToString(), clusterId = options.ClusterId })
    : Results.Json(new { status = "starting" }, statusCode: StatusCodes.Status503ServiceUnavailable));
app.MapGet("/", () => Results.Redirect("/dashboard"));
app.MapOrleansDashboard(routePrefix: "/dashboard");
await app.RunAsync();
return 0;
