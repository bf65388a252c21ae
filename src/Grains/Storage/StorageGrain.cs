// Longer than 400 lines: one grain's block index and its repair timer share state that must persist before each call returns; the pure planning is already in StoragePlanning.
using MetaNode.Clusters;
using MetaNode.Grains.Hosting;
using MetaNode.Grains.Security;
using MetaNode.Storage;
using MetaNode.VPods;
using MetaNode.Workloads;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Storage;

[GenerateSerializer, Alias("MetaNode.Storage.StorageState")]
public sealed class StorageState
{
    /// <summary>Every block the cluster holds, by CID text.</summary>
    [Id(0)] public Dictionary<string, StoredBlock> Blocks { get; set; } = [];

    [Id(1)] public List<PinRecord> Pins { get; set; } = [];
}

/// <summary>
/// The content-addressed store of one storage cluster (key: its name). Every block is checked against its CID before it is
/// stored, and placed on the r best-ranked running members (<see cref="StoragePlanning.Rank"/>); the index of who holds what
/// is persisted before a call returns. A timer re-replicates blocks whose holders stopped, failed or were deleted, and
/// collects blocks no pin (user, job or db.lock record) references once their grace period is over.
/// </summary>
[GrainType("storage")]
public sealed partial class StorageGrain(
    [PersistentState("storage", MetaNodeNames.ChainStorage)] IPersistentState<StorageState> state,
    StorageWorkloadClient blocks,
    IOptions<StorageOptions> options,
    TimeProvider time,
    ILogger<StorageGrain> logger) : Grain, IStorageGrain, IRemindable
{
    /// <summary>The most bytes one <see cref="PutBlocksAsync"/> call takes.</summary>
    public const long MaxBatchBytes = 64L * 1024 * 1024;

    private const string KeepAliveReminder = "keep-alive";
    private readonly StorageOptions _options = options.Value;
    private Membership? _membership;
    private HashSet<string>? _referenced;
    private IGrainTimer? _timer;
    private bool _reminderRegistered;
    private DateTimeOffset _lastGc;

    private string Cluster => this.GetPrimaryKeyString();

    private StorageState State => state.State;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _lastGc = time.GetUtcNow();
        if (State.Blocks.Count > 0)
        {
            StartTimer();
        }

        return Task.CompletedTask;
    }

    public async Task<PutReport> PutBlocksAsync(IReadOnlyList<BlockUpload> uploads, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uploads);
        var checkedBlocks = Check(uploads);
        if (checkedBlocks.Count == 0)
        {
            return new PutReport();
        }

        var membership = await MembershipAsync(fresh: false, cancellationToken);
        if (membership.Live.Count == 0)
        {
            throw new StorageUnavailableException($"storage cluster '{Cluster}' has no running storage vPod: nothing was stored. See `metanode-cli cluster status {Cluster}`.");
        }

        var copies = 0;
        var written = await ForEachAsync(checkedBlocks, async (block, ct) =>
        {
            var key = block.Cid.ToString();
            var holders = State.Blocks.TryGetValue(key, out var known) ? known.Holders.ToList() : [];
            var stored = await PlaceAsync(block.Cid, block.Data, holders, membership, ct);
            Interlocked.Add(ref copies, stored.Count);
            return stored;
        }, cancellationToken);

        var now = time.GetUtcNow();
        var minCopies = int.MaxValue;
        for (var i = 0; i < checkedBlocks.Count; i++)
        {
            var block = checkedBlocks[i];
            var key = block.Cid.ToString();
            if (!State.Blocks.TryGetValue(key, out var entry))
            {
                entry = new StoredBlock { Codec = block.Cid.Codec, Size = block.Data.Length, FileSize = block.FileSize, Children = block.Children };
                State.Blocks[key] = entry;
            }

            entry.AddedAt = now;
            entry.Holders = [.. entry.Holders.Union(written[i], StringComparer.Ordinal)];
            minCopies = Math.Min(minCopies, entry.Holders.Count(membership.Live.ContainsKey));
        }

        _referenced = null;
        await state.WriteStateAsync(cancellationToken);
        await EnsureKeptAliveAsync();
        if (minCopies == 0)
        {
            throw new StorageUnavailableException($"storage cluster '{Cluster}': no running storage vPod took some of the blocks (see `metanode-cli cluster status {Cluster}`); the others were stored.");
        }

        LogStored(logger, Cluster, checkedBlocks.Count, copies);
        return new PutReport { Blocks = checkedBlocks.Count, Bytes = checkedBlocks.Sum(b => (long)b.Data.Length), CopiesWritten = copies, MinCopies = minCopies };
    }

    public Task<PinRecord> PinAsync(string cid, CancellationToken cancellationToken = default) =>
        PinForAsync(cid, PinOwners.User, Caller(), cancellationToken);

    public async Task<PinRecord> PinForAsync(string cid, string owner, string by, CancellationToken cancellationToken = default)
    {
        var root = ParseCid(cid).ToString();
        ArgumentException.ThrowIfNullOrWhiteSpace(owner);
        var (_, missing) = StoragePlanning.Closure(State.Blocks, root);
        if (missing.Count > 0)
        {
            throw new ContentNotFoundException(missing.Count == 1 && missing[0] == root
                ? $"{root} is not stored in storage cluster '{Cluster}': put it first (`metanode-cli storage put FILE --cluster {Cluster}`)."
                : $"{root} is not completely stored in storage cluster '{Cluster}': {missing.Count} block(s) missing, the first {missing[0]}; put the file again.");
        }

        if (State.Pins.FirstOrDefault(p => p.Cid == root && p.Owner == owner) is { } existing)
        {
            return existing;
        }

        var pin = new PinRecord { Cid = root, Owner = owner, By = by, At = time.GetUtcNow(), Size = State.Blocks[root].FileSize };
        State.Pins.Add(pin);
        _referenced = null;
        await state.WriteStateAsync(cancellationToken);
        LogPinned(logger, Cluster, root, owner);
        return pin;
    }

    public async Task<bool> UnpinAsync(string cid, CancellationToken cancellationToken = default)
    {
        var root = ParseCid(cid).ToString();
        var removed = State.Pins.RemoveAll(p => p.Cid == root && p.Owner == PinOwners.User);
        if (removed == 0)
        {
            return false;
        }

        _referenced = null;
        await state.WriteStateAsync(cancellationToken);
        LogUnpinned(logger, Cluster, root);
        return true;
    }

    public async Task<byte[]?> GetBlockAsync(string cid, CancellationToken cancellationToken = default)
    {
        var parsed = ParseCid(cid);
        var key = parsed.ToString();
        if (!State.Blocks.TryGetValue(key, out var entry))
        {
            return null;
        }

        var holders = entry.Holders.ToArray();
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var membership = await MembershipAsync(fresh: attempt > 0, cancellationToken);
            foreach (var holder in StoragePlanning.Rank(key, holders.Where(membership.Live.ContainsKey)))
            {
                try
                {
                    if (await blocks.GetAsync(membership.Live[holder], parsed, cancellationToken) is { } bytes)
                    {
                        return bytes;
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    LogReadFailed(logger, Cluster, key, holder, ex.Message);
                }
            }
        }

        throw new StorageUnavailableException($"block {key} of storage cluster '{Cluster}' has no readable copy now: its holders ({string.Join(", ", holders)}) are not running or lost it.");
    }

    public Task<byte[]?> GetPublicBlockAsync(string cid, CancellationToken cancellationToken = default)
    {
        var key = ParseCid(cid).ToString();
        _referenced ??= StoragePlanning.Referenced(State.Blocks, State.Pins);
        return _referenced.Contains(key) ? GetBlockAsync(key, cancellationToken) : Task.FromResult<byte[]?>(null);
    }

    public async Task<ContentStat?> StatAsync(string cid, CancellationToken cancellationToken = default)
    {
        var root = ParseCid(cid);
        var key = root.ToString();
        var pins = State.Pins.Where(p => p.Cid == key).ToList();
        if (!State.Blocks.TryGetValue(key, out var entry))
        {
            return null;
        }

        var membership = await MembershipAsync(fresh: false, cancellationToken);
        var (present, missing) = StoragePlanning.Closure(State.Blocks, key);
        _referenced ??= StoragePlanning.Referenced(State.Blocks, State.Pins);
        return new ContentStat
        {
            Cluster = Cluster,
            Cid = key,
            Codec = root.Codec == Multicodec.Raw ? "raw" : "dag-pb",
            Size = entry.FileSize,
            Blocks = present.Count,
            MissingBlocks = missing.Count,
            MinLiveCopies = present.Count == 0 ? 0 : present.Min(c => State.Blocks[c].Holders.Count(membership.Live.ContainsKey)),
            Replication = membership.Replication,
            Holders = [.. entry.Holders.Order(StringComparer.Ordinal)],
            Pins = pins,
            Referenced = _referenced.Contains(key),
        };
    }

    public Task<IReadOnlyList<PinRecord>> ListPinsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<PinRecord>>([.. State.Pins]);

    public async Task<GcReport> CollectGarbageAsync(CancellationToken cancellationToken = default)
    {
        _lastGc = time.GetUtcNow();
        var referenced = StoragePlanning.Referenced(State.Blocks, State.Pins);
        var (collect, inGrace) = StoragePlanning.Garbage(State.Blocks, referenced, time.GetUtcNow(), _options.GcGracePeriod);
        if (collect.Count == 0)
        {
            return new GcReport { Referenced = State.Blocks.Count - inGrace, InGrace = inGrace };
        }

        var membership = await MembershipAsync(fresh: true, cancellationToken);
        var deleted = await ForEachAsync(collect, async (key, ct) =>
        {
            var cid = Cid.Parse(key);
            var gone = new List<string>();
            foreach (var holder in State.Blocks[key].Holders.ToArray())
            {
                if (!membership.Members.Contains(holder))
                {
                    gone.Add(holder);
                }
                else if (membership.Live.TryGetValue(holder, out var endpoint))
                {
                    try
                    {
                        await blocks.DeleteAsync(endpoint, cid, ct);
                        gone.Add(holder);
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
                    {
                        LogDeleteFailed(logger, Cluster, key, holder, ex.Message);
                    }
                }
            }

            return gone;
        }, cancellationToken);

        int removed = 0, deferred = 0;
        long freed = 0;
        for (var i = 0; i < collect.Count; i++)
        {
            var entry = State.Blocks[collect[i]];
            entry.Holders.RemoveAll(deleted[i].Contains);
            if (entry.Holders.Count == 0)
            {
                State.Blocks.Remove(collect[i]);
                removed++;
                freed += entry.Size;
            }
            else
            {
                deferred += entry.Holders.Count;
            }
        }

        _referenced = null;
        await state.WriteStateAsync(cancellationToken);
        LogCollected(logger, Cluster, removed, freed, deferred);
        return new GcReport { Removed = removed, BytesFreed = freed, Referenced = referenced.Count(State.Blocks.ContainsKey), InGrace = inGrace, Deferred = deferred };
    }

    public async Task<RepairReport> RepairAsync(CancellationToken cancellationToken = default)
    {
        var membership = await MembershipAsync(fresh: true, cancellationToken);
        var changed = false;
        foreach (var entry in State.Blocks.Values)
        {
            // A holder that is no member any more was deleted with its volume: its copy is gone.
            changed |= entry.Holders.RemoveAll(h => !membership.Members.Contains(h)) > 0;
        }

        var live = membership.Live.Keys.ToList();
        var needy = State.Blocks
            .Where(b => StoragePlanning.Targets(b.Key, b.Value.Holders, live, membership.Replication).Count > 0)
            .Select(b => b.Key)
            .ToList();
        var unavailable = 0;
        var made = 0;
        if (needy.Count > 0)
        {
            var copied = await ForEachAsync(needy, async (key, ct) =>
            {
                var entry = State.Blocks[key];
                var cid = Cid.Parse(key);
                byte[]? data = null;
                foreach (var holder in StoragePlanning.Rank(key, entry.Holders.Where(membership.Live.ContainsKey)))
                {
                    try
                    {
                        data = await blocks.GetAsync(membership.Live[holder], cid, ct);
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
                    {
                        LogReadFailed(logger, Cluster, key, holder, ex.Message);
                    }

                    if (data is not null)
                    {
                        break;
                    }
                }

                if (data is null)
                {
                    Interlocked.Increment(ref unavailable);
                    return [];
                }

                return await PlaceAsync(cid, data, entry.Holders.ToList(), membership, ct);
            }, cancellationToken);

            for (var i = 0; i < needy.Count; i++)
            {
                if (copied[i].Count > 0)
                {
                    var entry = State.Blocks[needy[i]];
                    entry.Holders = [.. entry.Holders.Union(copied[i], StringComparer.Ordinal)];
                    made += copied[i].Count;
                    changed = true;
                }
            }
        }

        if (changed)
        {
            await state.WriteStateAsync(cancellationToken);
        }

        var under = State.Blocks.Count(b => b.Value.Holders.Count(membership.Live.ContainsKey) < membership.Replication);
        if (made > 0 || unavailable > 0)
        {
            LogRepaired(logger, Cluster, made, needy.Count, under, unavailable);
        }

        return new RepairReport { Blocks = State.Blocks.Count, CopiesMade = made, UnderReplicated = under, Unavailable = unavailable, LiveMembers = live.Count };
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (State.Blocks.Count > 0)
        {
            StartTimer();
        }

        return Task.CompletedTask;
    }

    /// <summary>Writes a block to the best-ranked live members that lack it, falling back to the next ones when one refuses; returns who took it.</summary>
    private async Task<List<string>> PlaceAsync(Cid cid, byte[] data, List<string> holders, Membership membership, CancellationToken cancellationToken)
    {
        var key = cid.ToString();
        var wanted = Math.Min(membership.Replication, membership.Live.Count) - holders.Count(membership.Live.ContainsKey);
        var stored = new List<string>();
        if (wanted <= 0)
        {
            return stored;
        }

        var candidates = StoragePlanning.Rank(key, membership.Live.Keys.Where(m => !holders.Contains(m)));
        var next = 0;
        while (stored.Count < wanted && next < candidates.Count)
        {
            var batch = candidates.Skip(next).Take(wanted - stored.Count).ToList();
            next += batch.Count;
            var results = await Task.WhenAll(batch.Select(async member =>
            {
                try
                {
                    await blocks.PutAsync(membership.Live[member], cid, data, cancellationToken);
                    return member;
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    LogWriteFailed(logger, Cluster, key, member, ex.Message);
                    return null;
                }
            }));
            stored.AddRange(results.OfType<string>());
        }

        return stored;
    }

    private async Task<List<T>[]> ForEachAsync<TItem, T>(IReadOnlyList<TItem> items, Func<TItem, CancellationToken, Task<List<T>>> action, CancellationToken cancellationToken)
    {
        var results = new List<T>[items.Count];
        using var gate = new SemaphoreSlim(_options.MaxParallelTransfers);
        await Task.WhenAll(items.Select(async (item, index) =>
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                results[index] = await action(item, cancellationToken);
            }
            finally
            {
                gate.Release();
            }
        }));
        return results;
    }

    private List<CheckedBlock> Check(IReadOnlyList<BlockUpload> uploads)
    {
        var result = new List<CheckedBlock>(uploads.Count);
        long total = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < uploads.Count; i++)
        {
            var upload = uploads[i] ?? throw new InvalidStorageRequestException($"block {i} is null: nothing was stored.");
            if (!Cid.TryParse(upload.Cid, out var cid, out var error))
            {
                throw new InvalidStorageRequestException($"block {i}: {error} Nothing was stored.");
            }

            var data = upload.Data ?? [];
            if (data.Length > StorageProtocol.MaxBlockBytes)
            {
                throw new InvalidStorageRequestException($"block {i} ({cid}) has {data.Length} bytes; a block is at most {StorageProtocol.MaxBlockBytes}. Nothing was stored.");
            }

            total += data.Length;
            if (total > MaxBatchBytes)
            {
                throw new InvalidStorageRequestException($"the blocks carry more than {MaxBatchBytes} bytes; send fewer at a time. Nothing was stored.");
            }

            if (!cid!.Verifies(data))
            {
                throw new InvalidStorageRequestException($"block {i} does not hash to its CID {cid}: nothing was stored.");
            }

            if (!seen.Add(cid.ToString()))
            {
                continue;
            }

            List<string> children = [];
            long fileSize = data.Length;
            if (cid.Codec == Multicodec.DagPb)
            {
                try
                {
                    children = [.. DagPb.Children(new Block(cid, data)).Select(c => c.ToString())];
                    var unixFs = DagPb.ReadUnixFs(data);
                    fileSize = (long)(unixFs.FileSize ?? (ulong)unixFs.Data.Length);
                }
                catch (FormatException ex)
                {
                    throw new InvalidStorageRequestException($"block {i} ({cid}) is not a UnixFS file node: {ex.Message} Nothing was stored.");
                }
            }

            result.Add(new CheckedBlock(cid, data, children, fileSize));
        }

        return result;
    }

    private async Task<Membership> MembershipAsync(bool fresh, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (!fresh && _membership is { } cached && now - cached.At < _options.MembershipCacheTtl)
        {
            return cached;
        }

        ClusterStatus status;
        try
        {
            status = await GrainFactory.GetGrain<IVPodClusterGrain>(Cluster).GetStatusAsync(cancellationToken);
        }
        catch (ClusterNotFoundException)
        {
            throw new ContentNotFoundException($"storage cluster '{Cluster}' does not exist: deploy one with `metanode-cli cluster deploy {Cluster} --type storage --count 3`.");
        }

        if (status.Spec is not { MemberType: VPodType.Storage } spec)
        {
            throw new InvalidStorageRequestException($"cluster '{Cluster}' is not a storage cluster (its members are {status.Spec?.MemberType.ToString().ToLowerInvariant() ?? "unknown"}); deploy one with --type storage.");
        }

        var running = await Task.WhenAll(status.Members.Where(m => m.Phase == VPodPhase.Running).Select(async m =>
        {
            var vpod = await GrainFactory.GetGrain<IVPodGrain>(m.Id).GetStatusAsync(cancellationToken);
            Uri? endpoint = vpod.Phase == VPodPhase.Running && Uri.TryCreate(vpod.Endpoint, UriKind.Absolute, out var parsed) ? parsed : null;
            return (Id: m.Id, Endpoint: endpoint);
        }));
        var live = running.Where(r => r.Endpoint is not null).ToDictionary(r => r.Id, r => r.Endpoint!, StringComparer.Ordinal);
        _membership = new Membership(
            status.Members.Select(m => m.Id).ToHashSet(StringComparer.Ordinal),
            live,
            ClusterSpecValidation.EffectiveReplication(spec, Math.Max(status.Desired, 1)),
            now);
        return _membership;
    }

    private void StartTimer() =>
        _timer ??= this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions { DueTime = _options.RepairInterval, Period = _options.RepairInterval, Interleave = false });

    private async Task EnsureKeptAliveAsync()
    {
        StartTimer();
        if (!_reminderRegistered)
        {
            await this.RegisterOrUpdateReminder(KeepAliveReminder, _options.KeepAlivePeriod, _options.KeepAlivePeriod);
            _reminderRegistered = true;
        }
    }

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RepairAsync(cancellationToken);
            if (time.GetUtcNow() - _lastGc >= _options.GcInterval)
            {
                await CollectGarbageAsync(cancellationToken);
            }
        }
        catch (ContentNotFoundException)
        {
            // The cluster was deleted, and its members' volumes with it: nothing is left to repair or collect.
            _timer?.Dispose();
            _timer = null;
            if (await this.GetReminder(KeepAliveReminder) is { } reminder)
            {
                await this.UnregisterReminder(reminder);
            }

            _reminderRegistered = false;
            LogClusterGone(logger, Cluster);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogTickFailed(logger, Cluster, ex.Message);
        }
    }

    private static Cid ParseCid(string cid) =>
        Cid.TryParse(cid, out var parsed, out var error) ? parsed! : throw new InvalidStorageRequestException(error);

    private static string Caller() => RequestContext.Get(AccessControlFilter.CallerKey) as string ?? "silo";

    private sealed record CheckedBlock(Cid Cid, byte[] Data, List<string> Children, long FileSize);

    private sealed record Membership(IReadOnlySet<string> Members, IReadOnlyDictionary<string, Uri> Live, int Replication, DateTimeOffset At);
}
