using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Docker;

internal sealed partial class DockerImages
{
    [LoggerMessage(EventId = 1107, Level = LogLevel.Information, Message = "vPod {VPodId}: pulling image {Image} (credentials: {Credentials})")]
    private static partial void LogPulling(ILogger logger, string vpodId, string image, string credentials);

    [LoggerMessage(EventId = 1108, Level = LogLevel.Warning, Message = "vPod {VPodId}: pulling image {Image} failed ({Error}); using the copy the engine already has")]
    private static partial void LogPullFailedUsingLocal(ILogger logger, string vpodId, string image, string error);
}
