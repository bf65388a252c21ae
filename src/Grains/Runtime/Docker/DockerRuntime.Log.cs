using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Docker;

public sealed partial class DockerRuntime
{
    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "vPod {VPodId}: started container {ContainerId} ({Image})")]
    private partial void LogStarted(string vpodId, string containerId, string image);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Information, Message = "vPod {VPodId}: stopping container {ContainerId} (SIGTERM, SIGKILL after {Timeout})")]
    private partial void LogStopping(string vpodId, string containerId, TimeSpan timeout);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Information, Message = "vPod {VPodId}: killing container {ContainerId}")]
    private partial void LogKilling(string vpodId, string containerId);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Information, Message = "vPod {VPodId}: removed container {ContainerId}")]
    private partial void LogRemoved(string vpodId, string containerId);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Information, Message = "vPod {VPodId}: removed volume {Volume}")]
    private partial void LogVolumeRemoved(string vpodId, string volume);

    [LoggerMessage(EventId = 1111, Level = LogLevel.Information, Message = "vPod {VPodId}: wrote {Files} data files ({Bytes} bytes) into {Directory} of container {ContainerId}")]
    private partial void LogDataWritten(string vpodId, int files, long bytes, string directory, string containerId);

    [LoggerMessage(EventId = 1112, Level = LogLevel.Warning, Message = "vPod {VPodId}: refused a spec the docker runtime will not run: {Reason}")]
    private partial void LogSpecRefused(string vpodId, string reason);
}
