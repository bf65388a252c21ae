using MetaNode.Security;
using Orleans.Concurrency;

namespace MetaNode.Storage;

/// <summary>
/// The content-addressed store of one storage cluster (key: the cluster's name): places each block on r of its storage vPods,
/// re-replicates when one is lost, keeps what a pin references and collects the rest.
/// </summary>
[Alias("MetaNode.Storage.IStorageGrain")]
public interface IStorageGrain : IGrainWithStringKey
{
    /// <summary>Stores blocks (each checked against its CID) on the cluster's storage vPods. All are checked before any is stored.</summary>
    [Alias("PutBlocks"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task<PutReport> PutBlocksAsync(IReadOnlyList<BlockUpload> blocks, CancellationToken cancellationToken = default);

    /// <summary>Pins a DAG for the user; every block of it must be stored. Pinning again is a no-op.</summary>
    [Alias("Pin"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task<PinRecord> PinAsync(string cid, CancellationToken cancellationToken = default);

    /// <summary>Removes the user's pin (a job's or a db.lock record's reference stays); returns whether there was one.</summary>
    [Alias("Unpin"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task<bool> UnpinAsync(string cid, CancellationToken cancellationToken = default);

    /// <summary>Pins a DAG for a job or a db.lock record (see <see cref="PinOwners"/>).</summary>
    [Alias("PinFor"), SiloOnly]
    Task<PinRecord> PinForAsync(string cid, string owner, string by, CancellationToken cancellationToken = default);

    /// <summary>A block's bytes from any live copy (checked against the CID), or null when the cluster does not hold it.</summary>
    [Alias("GetBlock"), RequiresRole(AccessRole.Viewer), AlwaysInterleave]
    Task<byte[]?> GetBlockAsync(string cid, CancellationToken cancellationToken = default);

    /// <summary>As <see cref="GetBlockAsync"/>, but only a block that a pin references (what the public gateway serves).</summary>
    [Alias("GetPublicBlock"), RequiresRole(AccessRole.Viewer), AlwaysInterleave]
    Task<byte[]?> GetPublicBlockAsync(string cid, CancellationToken cancellationToken = default);

    /// <summary>What the cluster knows of a CID, or null when it holds nothing of it.</summary>
    [Alias("Stat"), RequiresRole(AccessRole.Viewer), AlwaysInterleave]
    Task<ContentStat?> StatAsync(string cid, CancellationToken cancellationToken = default);

    /// <summary>Every pin, oldest first.</summary>
    [Alias("ListPins"), RequiresRole(AccessRole.Viewer), AlwaysInterleave]
    Task<IReadOnlyList<PinRecord>> ListPinsAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes blocks no pin references that are older than the grace period.</summary>
    [Alias("CollectGarbage"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task<GcReport> CollectGarbageAsync(CancellationToken cancellationToken = default);

    /// <summary>Copies blocks below the replication factor to live storage vPods (also done on a timer).</summary>
    [Alias("Repair"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task<RepairReport> RepairAsync(CancellationToken cancellationToken = default);
}

/// <summary>db.lock: write-once names bound to CIDs, with an append-only history. Key: <see cref="DbLockKeys.Default"/>.</summary>
[Alias("MetaNode.Storage.IDbLockGrain")]
public interface IDbLockGrain : IGrainWithStringKey
{
    /// <summary>Binds <paramref name="name"/> to <paramref name="cid"/> (stored in <paramref name="cluster"/>) once; a second bind throws <see cref="LockConflictException"/>.</summary>
    [Alias("Lock"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task<LockRecord> LockAsync(string name, string cid, string cluster, CancellationToken cancellationToken = default);

    [Alias("Resolve"), RequiresRole(AccessRole.Viewer), ReadOnly]
    Task<LockRecord?> ResolveAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The whole history, oldest first.</summary>
    [Alias("History"), RequiresRole(AccessRole.Viewer), ReadOnly]
    Task<IReadOnlyList<LockRecord>> HistoryAsync(CancellationToken cancellationToken = default);
}

public static class DbLockKeys
{
    public const string Default = "default";
}
