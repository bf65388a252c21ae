using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Process;

internal sealed partial class ProcessExitMonitor
{
    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "vPod {VPodId}: process {Pid} exited with code {ExitCode}")]
    private static partial void LogExited(ILogger logger, string vpodId, int pid, int exitCode);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Warning, Message = "vPod {VPodId}: process {Pid} exited but its output pipes are still open (a descendant left its process group); its exit is reported and output is still captured")]
    private static partial void LogOutputStillOpen(ILogger logger, string vpodId, int pid);

    [LoggerMessage(EventId = 1014, Level = LogLevel.Error, Message = "vPod {VPodId}: watching process {Pid} failed; its exit code is unknown")]
    private static partial void LogMonitorFailed(ILogger logger, Exception exception, string vpodId, int pid);
}
