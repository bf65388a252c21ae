using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Placement;

public sealed partial class PlacementLedgerGrain
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {Silo} offers cpu {CpuMillis}m, memory {MemoryBytes} bytes to vPods")]
    private static partial void LogSiloRegistered(ILogger logger, SiloAddress silo, long cpuMillis, long memoryBytes);

    [LoggerMessage(Level = LogLevel.Debug, Message = "vPod {VPodId} placed on {Silo} (before: {Previous})")]
    private static partial void LogPlaced(ILogger logger, string vpodId, SiloAddress silo, SiloAddress? previous);

    [LoggerMessage(Level = LogLevel.Warning, Message = "vPod {VPodId} placed on the least loaded silo {Silo} although {Reason}; add capacity (MetaNode:Capacity) or silos")]
    private static partial void LogOvercommitted(ILogger logger, string vpodId, SiloAddress silo, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "vPod {VPodId} on {Silo} reserves cpu {CpuMillis}m, memory {MemoryBytes} bytes as its spec asks (placed as cpu {PlacedCpuMillis}m, memory {PlacedMemoryBytes} bytes); overcommitted: {Overcommitted}")]
    private static partial void LogRecorded(ILogger logger, string vpodId, SiloAddress silo, long cpuMillis, long memoryBytes, long placedCpuMillis, long placedMemoryBytes, bool overcommitted);

    [LoggerMessage(Level = LogLevel.Information, Message = "Placement ledger pruned {Reservations} reservations of deleted vPods and {Silos} dead silos")]
    private static partial void LogPruned(ILogger logger, int reservations, int silos);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Placement ledger could not prune; it tries again on its next timer tick")]
    private static partial void LogPruneFailed(ILogger logger, Exception exception);
}
