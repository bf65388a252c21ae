using Microsoft.Extensions.Logging.Console;

namespace MetaNode.Workload;

/// <summary>Builds the workload's web application: Kestrel on the configured address, one log line per request, the protocol's endpoints.</summary>
public static class WorkloadApp
{
    public static WebApplication Create(WorkloadSettings settings, string[]? args = null, TimeProvider? time = null, LogLevel minimumLevel = LogLevel.Information)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args ?? [] });
        builder.WebHost.UseSetting(WebHostDefaults.ServerUrlsKey, string.Empty);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(settings.Address, settings.Port));
        builder.Services.Configure<ConsoleLifetimeOptions>(lifetime => lifetime.SuppressStatusMessages = true);
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
        app.UseMiddleware<RequestLogMiddleware>();
        app.MapWorkloadProtocol(settings, time ?? TimeProvider.System);
        return app;
    }
}
