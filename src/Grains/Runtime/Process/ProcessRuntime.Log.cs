using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Process;

public sealed partial class ProcessRuntime
{
    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "vPod {VPodId}: process {Pid} started by runtime instance {Owner} is still running but cannot be supervised from here; stopping it before starting a new one")]
    private static partial void LogReplacingOrphan(ILogger logger, string vpodId, int pid, string owner);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Warning, Message = "vPod {VPodId}: the handle {Handle} is for node {HandleNode}, but this silo runs on {NodeId}; there is nothing to stop here")]
    private static partial void LogForeignNode(ILogger logger, string vpodId, string handle, string handleNode, string nodeId);

    [LoggerMessage(EventId = 1016, Level = LogLevel.Information, Message = "vPod {VPodId}: wrote {Files} data files ({Bytes} bytes) into {Directory}")]
    private static partial void LogDataWritten(ILogger logger, string vpodId, int files, long bytes, string directory);

    [LoggerMessage(EventId = 1018, Level = LogLevel.Warning, Message = "Process vPods are NOT isolated on this silo: they run as the silo's own user, can read what it can, and their cpu, memory and pids limits are not enforced. Reason: {Reason}")]
    private static partial void LogNotIsolated(ILogger logger, string reason);

    [LoggerMessage(EventId = 1020, Level = LogLevel.Information, Message = "Removed {Count} empty vPod cgroups of {VPodsRoot} left by workloads that ended while no silo ran")]
    private static partial void LogLeftoverCgroupsRemoved(ILogger logger, int count, string vpodsRoot);
}
