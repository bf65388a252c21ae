using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime;

public sealed partial class HttpWorkloadProbe
{
    [LoggerMessage(Level = LogLevel.Debug, Message = "Health probe of {Endpoint} answered {StatusCode}")]
    private static partial void LogProbeStatus(ILogger logger, string endpoint, int statusCode);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Health probe of {Endpoint} failed: {Error}")]
    private static partial void LogProbeFailed(ILogger logger, string endpoint, string error);
}
