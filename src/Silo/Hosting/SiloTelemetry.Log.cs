namespace MetaNode.Silo.Hosting;

public static partial class SiloLogging
{
    [LoggerMessage(Level = LogLevel.Information, Message = "MetaNode silo ready ({Profile}): clients connect to {Gateway}; dashboard, /ui, /metrics and /healthz on http://{HttpAddress}")]
    private static partial void LogReady(ILogger logger, SiloProfile profile, string gateway, string httpAddress);
}
