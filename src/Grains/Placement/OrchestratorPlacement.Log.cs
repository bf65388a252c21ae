using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Placement;

public sealed partial class OrchestratorPlacementDirector
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Orchestrator agent of vPod {VPodId} placed without knowing where its vPod runs; it moves once it notices")]
    private static partial void LogLookupFailed(ILogger logger, Exception exception, string vpodId);
}
