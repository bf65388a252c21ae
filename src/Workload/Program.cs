using MetaNode.Workload;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Logging.Console;

WorkloadSettings settings;
try
{
    settings = WorkloadSettings.FromEnvironment();
}
catch (FormatException ex)
{
    await Console.Error.WriteLineAsync("error: " + ex.Message);
    return 2;
}

var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args });
builder.WebHost.UseSetting(WebHostDefaults.ServerUrlsKey, string.Empty);
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(settings.Address, settings.Port));
builder.Services.Configure<ConsoleLifetimeOptions>(lifetime => lifetime.SuppressStatusMessages = true);
builder.Logging.ClearProviders();
builder.Logging.SetMinimumLevel(LogLevel.Information);
builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
builder.Logging.AddSimpleConsole(console =>
{
    console.SingleLine = true;
    console.IncludeScopes = false;
    console.UseUtcTimestamp = true;
    console.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z' ";
    console.ColorBehavior = LoggerColorBehavior.Disabled;
});

var app = builder.Build();
app.UseMiddleware<RequestLogMiddleware>();
app.MapWorkloadProtocol(settings, TimeProvider.System);

await app.StartAsync();
var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
var address = addresses is { Count: > 0 } ? string.Join(", ", addresses) : settings.Url;
WorkloadLog.Started(app.Logger, settings.VPodId, address);
await app.WaitForShutdownAsync();
WorkloadLog.Stopped(app.Logger, settings.VPodId);
return 0;

internal static partial class WorkloadLog
{
    [LoggerMessage(1, LogLevel.Information, "vPod {VPodId} workload listening on {Address}")]
    public static partial void Started(ILogger logger, string vpodId, string address);

    [LoggerMessage(2, LogLevel.Information, "vPod {VPodId} workload stopped")]
    public static partial void Stopped(ILogger logger, string vpodId);
}
