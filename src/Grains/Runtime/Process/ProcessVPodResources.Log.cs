using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Process;

internal sealed partial class ProcessVPodResources
{
    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "Removed vPod {VPodId} and its directory {Directory}")]
    private partial void LogRemoved(string vpodId, string directory);

    [LoggerMessage(EventId = 1019, Level = LogLevel.Warning, Message = "vPod {VPodId}: its cgroup still holds processes and could not be removed; it is left behind")]
    private partial void LogCgroupStillBusy(string vpodId);
}
