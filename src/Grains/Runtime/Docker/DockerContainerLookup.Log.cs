using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Docker;

internal sealed partial class DockerContainerLookup
{
    [LoggerMessage(EventId = 1109, Level = LogLevel.Warning, Message = "vPod {VPodId}: {Count} containers carry its label ({Containers}); using the oldest. Remove the others by hand")]
    private static partial void LogDuplicates(ILogger logger, string vpodId, int count, string containers);
}
