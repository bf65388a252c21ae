using MetaNode.Workload;
using MetaNode.Workload.Keys;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

WorkloadSettings settings;
WebApplication app;
try
{
    settings = WorkloadSettings.FromEnvironment();
    app = WorkloadApp.Create(settings, args);
}
catch (Exception ex) when (ex is FormatException or InvalidVPodKeyException)
{
    await Console.Error.WriteLineAsync("error: " + ex.Message);
    return 2;
}

await app.StartAsync();
var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
var address = addresses is { Count: > 0 } ? string.Join(", ", addresses) : settings.Url;
LogStarted(app.Logger, settings.VPodId, address, app.Services.GetRequiredService<VPodKey>().Address, settings.DataDirectory);
await app.WaitForShutdownAsync();
LogStopped(app.Logger, settings.VPodId);
return 0;
