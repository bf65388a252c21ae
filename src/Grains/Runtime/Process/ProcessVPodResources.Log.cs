using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Process;

internal sealed partial class ProcessVPodResources
{
    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "Removed vPod {VPodId} and its directory {Directory}")]
    private static partial void LogRemoved(ILogger logger, string vpodId, string directory);

    [LoggerMessage(EventId = 1019, Level = LogLevel.Warning, Message = "vPod {VPodId}: its cgroup still holds processes and could not be removed; it is left behind")]
    private static partial void LogCgroupStillBusy(ILogger logger, string vpodId);
}
