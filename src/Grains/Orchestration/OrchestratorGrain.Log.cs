using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Orchestration;

public sealed partial class OrchestratorGrain
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Orchestrator {VPodId} leads cluster {Cluster} with term {Term}")]
    private static partial void LogLeading(ILogger logger, string vpodId, string cluster, long term);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Orchestrator {VPodId} lost the lease of cluster {Cluster} (term {Term}); {Holder} leads with term {NewTerm}")]
    private static partial void LogLostLease(ILogger logger, string vpodId, string cluster, long term, string? holder, long newTerm);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Orchestrator {VPodId} was fenced off cluster {Cluster}: its term {Term} is older than {CurrentTerm}")]
    private static partial void LogFenced(ILogger logger, string vpodId, string cluster, long term, long currentTerm);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Orchestrator {VPodId} could not reconcile cluster {Cluster} (term {Term}); it tries again on its next tick")]
    private static partial void LogReconcileFailed(ILogger logger, Exception exception, string vpodId, string cluster, long term);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Orchestrator {VPodId} could not release the lease of cluster {Cluster} (term {Term}); it expires on its own")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, string vpodId, string cluster, long term);
}
