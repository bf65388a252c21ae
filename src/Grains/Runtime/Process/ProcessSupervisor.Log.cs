using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Process;

internal sealed partial class ProcessSupervisor
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Started vPod {VPodId}: process {Pid} runs {Program} in {WorkingDirectory}")]
    private static partial void LogStarted(ILogger logger, string vpodId, int pid, string program, string workingDirectory);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Information, Message = "Stopping {Count} vPod processes before shutting down (SIGTERM, then SIGKILL after {Timeout})")]
    private static partial void LogShuttingDown(ILogger logger, int count, TimeSpan timeout);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Error, Message = "Stopping vPod {VPodId} (process {Pid}) during shutdown failed; it may still be running and must be killed by hand")]
    private static partial void LogShutdownStopFailed(ILogger logger, Exception exception, string vpodId, int pid);
}
