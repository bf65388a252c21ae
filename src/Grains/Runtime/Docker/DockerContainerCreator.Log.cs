using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Docker;

internal sealed partial class DockerContainerCreator
{
    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "vPod {VPodId}: created container {ContainerId} from {Image} (cpu {CpuMillis}m, memory {MemoryBytes} bytes)")]
    private static partial void LogCreated(ILogger logger, string vpodId, string containerId, string image, long cpuMillis, long memoryBytes);
}
