using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Process;

internal sealed partial class ProcessSignaller
{
    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Stopping vPod {VPodId}: sent SIGTERM to process {Pid}; SIGKILL follows after {Timeout}")]
    private static partial void LogStopping(ILogger logger, string vpodId, int pid, TimeSpan timeout);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "vPod {VPodId}: process {Pid} did not exit within {Timeout} of SIGTERM; sending SIGKILL. Make the workload exit on SIGTERM or stop it with a longer timeout")]
    private static partial void LogKillingAfterTimeout(ILogger logger, string vpodId, int pid, TimeSpan timeout);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Force-stopping vPod {VPodId}: sent SIGKILL to process {Pid}")]
    private static partial void LogKilling(ILogger logger, string vpodId, int pid);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "Stopping vPod {VPodId}: process {Pid} was started by another runtime instance; sending {Signal} (SIGKILL follows after {Timeout})")]
    private static partial void LogStoppingOrphan(ILogger logger, string vpodId, int pid, string signal, TimeSpan timeout);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Warning, Message = "vPod {VPodId}: sending signal {Signal} to {Target} failed (a negative target is a process group)")]
    private static partial void LogSignalFailed(ILogger logger, Exception exception, string vpodId, int signal, int target);
}
