using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Process;

internal sealed partial class RotatingLogWriter
{
    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Rotated the log of vPod {VPodId} ({Path}), keeping {MaxFiles} rotated files")]
    private static partial void LogRotated(ILogger logger, string vpodId, string path, int maxFiles);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Writing the log of vPod {VPodId} to {Path} failed; its output is dropped until writing works again. Check free disk space and permissions")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, string vpodId, string path);
}
