using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Process;

public sealed partial class ProcessRuntimeRootCheck
{
    [LoggerMessage(
        EventId = 1017,
        Level = LogLevel.Warning,
        Message = "MetaNode:Runtime:Process:DataDirectory {ProcessRoot} is inside the silo's data directory {SiloDataDirectory}: the vPods' workload keys (vpods/<id>/key) would then live under the silo's data directory. Move it outside that directory, or remove the setting to use the default beside it")]
    private static partial void LogRootInsideSiloData(ILogger logger, string processRoot, string siloDataDirectory);
}
