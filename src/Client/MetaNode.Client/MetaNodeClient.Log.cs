using Microsoft.Extensions.Logging;

namespace MetaNode.Client;

public sealed partial class MetaNodeClient
{
    [LoggerMessage(1, LogLevel.Debug, "Connecting to {Target} (timeout {TimeoutSeconds} s)", EventName = "Connecting")]
    private static partial void LogConnecting(ILogger logger, string target, double timeoutSeconds);

    [LoggerMessage(2, LogLevel.Information, "Connected to the MetaNode cluster through {Target}", EventName = "Connected")]
    private static partial void LogConnected(ILogger logger, string target);

    [LoggerMessage(3, LogLevel.Warning, "Stopping the Orleans client host did not complete cleanly; it was disposed anyway", EventName = "StopFailed")]
    private static partial void LogStopFailed(ILogger logger, Exception exception);

    [LoggerMessage(4, LogLevel.Debug, "Deploying vPod {VPodId} named {Name}", EventName = "Deploying")]
    private static partial void LogDeploying(ILogger logger, string vpodId, string name);
}
