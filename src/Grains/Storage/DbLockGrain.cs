using MetaNode.Clusters;
using MetaNode.Grains.Hosting;
using MetaNode.Grains.Security;
using MetaNode.Storage;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Storage;

[GenerateSerializer, Alias("MetaNode.Storage.DbLockState")]
public sealed class DbLockState
{
    /// <summary>Every bind, in order; nothing is ever removed or rewritten.</summary>
    [Id(0)] public List<LockRecord> History { get; set; } = [];
}

/// <summary>
/// db.lock: write-once names. A bind pins its CID in its storage cluster (owner <c>lock:{name}</c>, which no unpin removes)
/// before it is recorded, so the content a name points to is never collected; a second bind of a name throws
/// <see cref="LockConflictException"/> and changes nothing. The history is persisted with the grain's state.
/// </summary>
[GrainType("db-lock")]
public sealed partial class DbLockGrain(
    [PersistentState("dblock", MetaNodeNames.ChainStorage)] IPersistentState<DbLockState> state,
    TimeProvider time,
    ILogger<DbLockGrain> logger) : Grain, IDbLockGrain
{
    public async Task<LockRecord> LockAsync(string name, string cid, string cluster, CancellationToken cancellationToken = default)
    {
        if (DbLockNames.Problem(name) is { } problem)
        {
            throw new InvalidStorageRequestException(problem + " Nothing was changed.");
        }

        if (!Cid.TryParse(cid, out var parsed, out var error))
        {
            throw new InvalidStorageRequestException(error + " Nothing was changed.");
        }

        if (!ClusterSpecValidation.IsValidName(cluster))
        {
            throw new InvalidStorageRequestException($"storage cluster name '{cluster}' is invalid. Nothing was changed.");
        }

        if (state.State.History.FirstOrDefault(r => r.Name == name) is { } existing)
        {
            throw new LockConflictException(existing);
        }

        var by = RequestContext.Get(AccessControlFilter.CallerKey) as string ?? "silo";
        await GrainFactory.GetGrain<IStorageGrain>(cluster).PinForAsync(parsed!.ToString(), PinOwners.Lock(name), by, cancellationToken);
        var record = new LockRecord
        {
            Sequence = state.State.History.Count + 1,
            Name = name,
            Cid = parsed.ToString(),
            Cluster = cluster,
            By = by,
            At = time.GetUtcNow(),
        };
        state.State.History.Add(record);
        await state.WriteStateAsync(cancellationToken);
        LogLocked(logger, name, record.Cid, by);
        return record;
    }

    public Task<LockRecord?> ResolveAsync(string name, CancellationToken cancellationToken = default) =>
        Task.FromResult(state.State.History.FirstOrDefault(r => r.Name == name));

    public Task<IReadOnlyList<LockRecord>> HistoryAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<LockRecord>>([.. state.State.History]);
}
