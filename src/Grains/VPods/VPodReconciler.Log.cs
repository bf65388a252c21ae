using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.VPods;

public sealed partial class VPodReconciler
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Reconciling {Count} vPods that should be running ({Cause})")]
    private static partial void LogReconciling(ILogger logger, int count, string cause);

    [LoggerMessage(Level = LogLevel.Warning, Message = "vPod {VPodId} could not be reconciled; its next call or the next silo start tries again")]
    private static partial void LogReconcileFailed(ILogger logger, Exception exception, string vpodId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Reconciling vPods failed ({Cause}); check that grain storage is reachable")]
    private static partial void LogReconcileAllFailed(ILogger logger, Exception exception, string cause);
}
