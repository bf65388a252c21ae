using MetaNode.Workload.Keys;
using MetaNode.Workloads;
using Microsoft.Extensions.Logging.Console;

namespace MetaNode.Workload;

/// <summary>
/// Builds the workload's web application: the vPod's own key loaded (or created on first start) from the key directory, Kestrel on
/// the configured address, one log line per request, the protocol's endpoints.
/// </summary>
public static partial class WorkloadApp
{
    /// <summary>
    /// The largest request body: a data placement of <see cref="WorkloadProtocol.MaxDataBytes"/> bytes as base64 (4 characters per 3
    /// bytes) plus room for names and JSON.
    /// </summary>
    public const long MaxRequestBodyBytes = (WorkloadProtocol.MaxDataBytes + 2) / 3 * 4 + 1024 * 1024;

    /// <summary>Creates the application; throws <see cref="InvalidVPodKeyException"/> when the key directory holds a key file it cannot use.</summary>
    public static WebApplication Create(WorkloadSettings settings, string[]? args = null, TimeProvider? time = null, LogLevel minimumLevel = LogLevel.Information)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var key = VPodKeyFile.LoadOrCreate(settings.KeyDirectory, out var created);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args ?? [] });
        builder.WebHost.UseSetting(WebHostDefaults.ServerUrlsKey, string.Empty);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(settings.Address, settings.Port);
            kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
        });
        builder.Services.Configure<ConsoleLifetimeOptions>(lifetime => lifetime.SuppressStatusMessages = true);
        builder.Services.AddSingleton(key);
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(minimumLevel);
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
        LogKey(app.Logger, settings.VPodId, key.Address, created ? "created" : "loaded", settings.KeyDirectory);
        app.UseMiddleware<RequestLogMiddleware>();
        app.MapWorkloadProtocol(settings, key, time ?? TimeProvider.System, app.Logger);
        return app;
    }
}
