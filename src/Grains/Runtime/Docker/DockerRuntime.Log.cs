using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Docker;

public sealed partial class DockerRuntime
{
    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "vPod {VPodId}: started container {ContainerId} ({Image})")]
    private static partial void LogStarted(ILogger logger, string vpodId, string containerId, string image);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Information, Message = "vPod {VPodId}: stopping container {ContainerId} (SIGTERM, SIGKILL after {Timeout})")]
    private static partial void LogStopping(ILogger logger, string vpodId, string containerId, TimeSpan timeout);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Information, Message = "vPod {VPodId}: killing container {ContainerId}")]
    private static partial void LogKilling(ILogger logger, string vpodId, string containerId);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Information, Message = "vPod {VPodId}: removed container {ContainerId}")]
    private static partial void LogRemoved(ILogger logger, string vpodId, string containerId);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Information, Message = "vPod {VPodId}: removed volume {Volume}")]
    private static partial void LogVolumeRemoved(ILogger logger, string vpodId, string volume);

    [LoggerMessage(EventId = 1111, Level = LogLevel.Information, Message = "vPod {VPodId}: wrote {Files} data files ({Bytes} bytes) into {Directory} of container {ContainerId}")]
    private static partial void LogDataWritten(ILogger logger, string vpodId, int files, long bytes, string directory, string containerId);

    [LoggerMessage(EventId = 1112, Level = LogLevel.Warning, Message = "vPod {VPodId}: refused a spec the docker runtime will not run: {Reason}")]
    private static partial void LogSpecRefused(ILogger logger, string vpodId, string reason);
}
