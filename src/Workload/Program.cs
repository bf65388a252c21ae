using MetaNode.Workload;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

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

var app = WorkloadApp.Create(settings, args);
await app.StartAsync();
var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
var address = addresses is { Count: > 0 } ? string.Join(", ", addresses) : settings.Url;
WorkloadLog.Started(app.Logger, settings.VPodId, address, settings.DataDirectory);
await app.WaitForShutdownAsync();
WorkloadLog.Stopped(app.Logger, settings.VPodId);
return 0;

internal static partial class WorkloadLog
{
    [LoggerMessage(1, LogLevel.Information, "vPod {VPodId} workload listening on {Address}, data in {DataDirectory}")]
    public static partial void Started(ILogger logger, string vpodId, string address, string dataDirectory);

    [LoggerMessage(2, LogLevel.Information, "vPod {VPodId} workload stopped")]
    public static partial void Stopped(ILogger logger, string vpodId);
}
