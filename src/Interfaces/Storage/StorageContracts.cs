namespace MetaNode.Storage;

/// <summary>A block to store: its CID (text) and its bytes, which must hash to it.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Storage.BlockUpload")]
public sealed record BlockUpload([property: Id(0)] string Cid, [property: Id(1)] byte[] Data);

/// <summary>What one <c>PutBlocks</c> call stored.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Storage.PutReport")]
public sealed record PutReport
{
    [Id(0)] public int Blocks { get; init; }
    [Id(1)] public long Bytes { get; init; }
    /// <summary>Copies written to storage vPods by this call (a block already on enough live vPods is not written again).</summary>
    [Id(2)] public int CopiesWritten { get; init; }
    /// <summary>The fewest live copies any block of the call has now (below the replication factor when too few storage vPods run).</summary>
    [Id(3)] public int MinCopies { get; init; }
}

/// <summary>A reason a DAG is kept: a user's pin, a job's model or round record, or a db.lock record.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Storage.PinRecord")]
public sealed record PinRecord
{
    [Id(0)] public required string Cid { get; init; }
    /// <summary><see cref="PinOwners.User"/>, <c>job:{id}</c> or <c>lock:{name}</c>.</summary>
    [Id(1)] public required string Owner { get; init; }
    [Id(2)] public required string By { get; init; }
    [Id(3)] public DateTimeOffset At { get; init; }
    /// <summary>The file's size (the root's UnixFS file size, or the raw block's length).</summary>
    [Id(4)] public long Size { get; init; }
}

public static class PinOwners
{
    public const string User = "user";

    public static string Job(string jobId) => "job:" + jobId;

    public static string Lock(string name) => "lock:" + name;
}

/// <summary>What <c>storage stat</c> shows for a CID.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Storage.ContentStat")]
public sealed record ContentStat
{
    [Id(0)] public required string Cluster { get; init; }
    [Id(1)] public required string Cid { get; init; }
    /// <summary><c>raw</c> or <c>dag-pb</c>.</summary>
    [Id(2)] public required string Codec { get; init; }
    /// <summary>The file's size: the raw block's length, or the root's UnixFS file size.</summary>
    [Id(3)] public long Size { get; init; }
    /// <summary>Blocks of the DAG the index knows.</summary>
    [Id(4)] public int Blocks { get; init; }
    /// <summary>Blocks of the DAG the index does not hold (a DAG being uploaded).</summary>
    [Id(5)] public int MissingBlocks { get; init; }
    /// <summary>The fewest live copies of any of its blocks.</summary>
    [Id(6)] public int MinLiveCopies { get; init; }
    [Id(7)] public int Replication { get; init; }
    /// <summary>The storage vPods holding the root block.</summary>
    [Id(8)] public IReadOnlyList<string> Holders { get; init; } = [];
    [Id(9)] public IReadOnlyList<PinRecord> Pins { get; init; } = [];
    /// <summary>Whether a pin covers it (directly or as part of a pinned DAG): only such content is served by the gateway.</summary>
    [Id(10)] public bool Referenced { get; init; }
}

/// <summary>One garbage collection pass.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Storage.GcReport")]
public sealed record GcReport
{
    [Id(0)] public int Removed { get; init; }
    [Id(1)] public long BytesFreed { get; init; }
    /// <summary>Blocks kept because a pin, a job or a db.lock record references them.</summary>
    [Id(2)] public int Referenced { get; init; }
    /// <summary>Unreferenced blocks younger than the grace period (an upload may still pin them).</summary>
    [Id(3)] public int InGrace { get; init; }
    /// <summary>Copies that could not be deleted now (their vPod is not running); the next pass tries again.</summary>
    [Id(4)] public int Deferred { get; init; }
}

/// <summary>One re-replication pass.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Storage.RepairReport")]
public sealed record RepairReport
{
    [Id(0)] public int Blocks { get; init; }
    [Id(1)] public int CopiesMade { get; init; }
    /// <summary>Blocks below the replication factor after the pass (too few live vPods, or no live copy to copy from).</summary>
    [Id(2)] public int UnderReplicated { get; init; }
    /// <summary>Blocks with no live copy at all.</summary>
    [Id(3)] public int Unavailable { get; init; }
    [Id(4)] public int LiveMembers { get; init; }
}

/// <summary>A db.lock record: a name bound once to a CID.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Storage.LockRecord")]
public sealed record LockRecord
{
    /// <summary>Position in the append-only history, from 1.</summary>
    [Id(0)] public long Sequence { get; init; }
    [Id(1)] public required string Name { get; init; }
    [Id(2)] public required string Cid { get; init; }
    [Id(3)] public required string Cluster { get; init; }
    [Id(4)] public required string By { get; init; }
    [Id(5)] public DateTimeOffset At { get; init; }
}

/// <summary>The CID is not stored (or not completely) in the storage cluster; nothing was changed.</summary>
[GenerateSerializer, Alias("MetaNode.Storage.ContentNotFoundException")]
public sealed class ContentNotFoundException : Exception
{
    public ContentNotFoundException(string message)
        : base(message)
    {
    }
}

/// <summary>A storage request is malformed or not allowed (a block that does not hash to its CID, an invalid name); nothing was changed.</summary>
[GenerateSerializer, Alias("MetaNode.Storage.InvalidStorageRequestException")]
public sealed class InvalidStorageRequestException : Exception
{
    public InvalidStorageRequestException(string message)
        : base(message)
    {
    }
}

/// <summary>No running storage vPod could take or serve the blocks now.</summary>
[GenerateSerializer, Alias("MetaNode.Storage.StorageUnavailableException")]
public sealed class StorageUnavailableException : Exception
{
    public StorageUnavailableException(string message)
        : base(message)
    {
    }
}

/// <summary>The db.lock name is already bound; nothing was changed.</summary>
[GenerateSerializer, Alias("MetaNode.Storage.LockConflictException")]
public sealed class LockConflictException : Exception
{
    public LockConflictException(LockRecord existing)
        : base($"db.lock name '{existing.Name}' is already bound to {existing.Cid} (by {existing.By} at {existing.At:u}); a name binds once, nothing was changed.")
    {
        Existing = existing;
    }

    [Id(0)] public LockRecord Existing { get; }
}
