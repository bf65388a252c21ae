using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Process;

internal sealed partial class ProcessLauncher
{
    [LoggerMessage(EventId = 1015, Level = LogLevel.Warning, Message = "MetaNode:Runtime:Process:IsolateProcessGroup is true but setsid was not found on PATH (install util-linux); workloads share the silo's process group and stop signals reach only their main process")]
    private static partial void LogSetsidMissing(ILogger logger);
}
