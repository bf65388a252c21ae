using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Storage;

public sealed partial class StorageGrain
{
    [LoggerMessage(Level = LogLevel.Debug, Message = "Storage cluster {Cluster}: stored {Blocks} blocks ({Copies} copies written)")]
    private static partial void LogStored(ILogger logger, string cluster, int blocks, int copies);

    [LoggerMessage(Level = LogLevel.Information, Message = "Storage cluster {Cluster}: pinned {Cid} for {Owner}")]
    private static partial void LogPinned(ILogger logger, string cluster, string cid, string owner);

    [LoggerMessage(Level = LogLevel.Information, Message = "Storage cluster {Cluster}: unpinned {Cid}")]
    private static partial void LogUnpinned(ILogger logger, string cluster, string cid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storage cluster {Cluster}: reading block {Cid} from {VPod} failed: {Reason}")]
    private static partial void LogReadFailed(ILogger logger, string cluster, string cid, string vpod, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storage cluster {Cluster}: writing block {Cid} to {VPod} failed: {Reason}")]
    private static partial void LogWriteFailed(ILogger logger, string cluster, string cid, string vpod, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storage cluster {Cluster}: deleting block {Cid} from {VPod} failed: {Reason}")]
    private static partial void LogDeleteFailed(ILogger logger, string cluster, string cid, string vpod, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Storage cluster {Cluster}: collected {Removed} blocks ({Bytes} bytes); {Deferred} copies wait for their vPod")]
    private static partial void LogCollected(ILogger logger, string cluster, int removed, long bytes, int deferred);

    [LoggerMessage(Level = LogLevel.Information, Message = "Storage cluster {Cluster}: made {Copies} copies for {Blocks} under-replicated blocks; {Under} still under the replication factor, {Unavailable} without a live copy")]
    private static partial void LogRepaired(ILogger logger, string cluster, int copies, int blocks, int under, int unavailable);

    [LoggerMessage(Level = LogLevel.Information, Message = "Storage cluster {Cluster} no longer exists: repair and garbage collection stop")]
    private static partial void LogClusterGone(ILogger logger, string cluster);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storage cluster {Cluster}: background repair failed: {Reason}")]
    private static partial void LogTickFailed(ILogger logger, string cluster, string reason);
}
