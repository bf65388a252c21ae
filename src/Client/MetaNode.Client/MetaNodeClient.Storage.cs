using MetaNode.Clusters;
using MetaNode.Storage;
using MetaNode.VPods;

namespace MetaNode.Client;

/// <summary>A file <c>storage put</c> stored: its root CID, size, blocks and the fewest copies any block has.</summary>
public sealed record StoredFile(string Cluster, string Cid, long Size, int Blocks, int MinCopies);

public sealed partial class MetaNodeClient
{
    /// <summary>Blocks sent per call while putting a file: 16 chunks, 4 MiB.</summary>
    public const int PutBatchBlocks = 16;

    public async Task<string> ResolveStorageClusterAsync(string? cluster, CancellationToken cancellationToken = default)
    {
        if (!string.IsNullOrWhiteSpace(cluster))
        {
            Storage(cluster);
            return cluster;
        }

        var storage = (await _grainFactory.GetGrain<IVPodClusterRegistryGrain>(ClusterRegistryKeys.Default).ListAsync(cancellationToken).ConfigureAwait(false))
            .Where(c => c.MemberType == VPodType.Storage)
            .Select(c => c.Name)
            .Order(StringComparer.Ordinal)
            .ToList();
        return storage.Count switch
        {
            1 => storage[0],
            0 => throw new ContentNotFoundException("there is no storage cluster: deploy one with `metanode-cli cluster deploy NAME --type storage --count 3`."),
            _ => throw new InvalidStorageRequestException($"there are {storage.Count} storage clusters ({string.Join(", ", storage)}): name one with --cluster."),
        };
    }

    /// <summary>
    /// Stores a file as IPFS does (<see cref="UnixFsFile"/>): chunks it here, sends the blocks in batches (each checked by the
    /// silo against its CID), then pins the root. The same bytes always give the same CID.
    /// </summary>
    public async Task<StoredFile> PutFileAsync(string? cluster, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var name = await ResolveStorageClusterAsync(cluster, cancellationToken).ConfigureAwait(false);
        var grain = Storage(name);
        var batch = new List<BlockUpload>(PutBatchBlocks);
        Block? root = null;
        var blocks = 0;
        var minCopies = int.MaxValue;
        await foreach (var block in UnixFsFile.ImportAsync(content, cancellationToken).ConfigureAwait(false))
        {
            root = block;
            blocks++;
            batch.Add(new BlockUpload(block.Cid.ToString(), block.Data));
            if (batch.Count == PutBatchBlocks)
            {
                minCopies = Math.Min(minCopies, (await grain.PutBlocksAsync([.. batch], cancellationToken).ConfigureAwait(false)).MinCopies);
                batch.Clear();
            }
        }

        if (batch.Count > 0)
        {
            minCopies = Math.Min(minCopies, (await grain.PutBlocksAsync([.. batch], cancellationToken).ConfigureAwait(false)).MinCopies);
        }

        var pin = await grain.PinAsync(root!.Cid.ToString(), cancellationToken).ConfigureAwait(false);
        return new StoredFile(name, pin.Cid, pin.Size, blocks, minCopies);
    }

    /// <summary>Writes the file under <paramref name="cid"/> to <paramref name="output"/>, checking every block against its CID here.</summary>
    public async Task<long> GetFileAsync(string? cluster, string cid, Stream output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        var root = ParseCid(cid);
        var grain = Storage(await ResolveStorageClusterAsync(cluster, cancellationToken).ConfigureAwait(false));
        if (await grain.GetBlockAsync(root.ToString(), cancellationToken).ConfigureAwait(false) is null)
        {
            throw new ContentNotFoundException($"{root} is not stored in that storage cluster.");
        }

        var prefetch = new BlockPrefetch((c, ct) => grain.GetBlockAsync(c.ToString(), ct), GetWindowBlocks, cancellationToken);
        return await UnixFsFile.ExportAsync(root, prefetch.GetAsync, output, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Blocks <c>storage get</c> asks for ahead of the one it writes.</summary>
    public const int GetWindowBlocks = 16;

    public async Task<ContentStat?> StatContentAsync(string? cluster, string cid, CancellationToken cancellationToken = default) =>
        await Storage(await ResolveStorageClusterAsync(cluster, cancellationToken).ConfigureAwait(false)).StatAsync(ParseCid(cid).ToString(), cancellationToken).ConfigureAwait(false);

    public async Task<PinRecord> PinContentAsync(string? cluster, string cid, CancellationToken cancellationToken = default) =>
        await Storage(await ResolveStorageClusterAsync(cluster, cancellationToken).ConfigureAwait(false)).PinAsync(ParseCid(cid).ToString(), cancellationToken).ConfigureAwait(false);

    public async Task<bool> UnpinContentAsync(string? cluster, string cid, CancellationToken cancellationToken = default) =>
        await Storage(await ResolveStorageClusterAsync(cluster, cancellationToken).ConfigureAwait(false)).UnpinAsync(ParseCid(cid).ToString(), cancellationToken).ConfigureAwait(false);

    public async Task<IReadOnlyList<PinRecord>> ListPinsAsync(string? cluster, CancellationToken cancellationToken = default) =>
        await Storage(await ResolveStorageClusterAsync(cluster, cancellationToken).ConfigureAwait(false)).ListPinsAsync(cancellationToken).ConfigureAwait(false);

    public async Task<GcReport> CollectGarbageAsync(string? cluster, CancellationToken cancellationToken = default) =>
        await Storage(await ResolveStorageClusterAsync(cluster, cancellationToken).ConfigureAwait(false)).CollectGarbageAsync(cancellationToken).ConfigureAwait(false);

    public async Task<LockRecord> LockAsync(string name, string cid, string? cluster, CancellationToken cancellationToken = default)
    {
        if (DbLockNames.Problem(name) is { } problem)
        {
            throw new InvalidStorageRequestException(problem);
        }

        var storage = await ResolveStorageClusterAsync(cluster, cancellationToken).ConfigureAwait(false);
        return await _grainFactory.GetGrain<IDbLockGrain>(DbLockKeys.Default).LockAsync(name, ParseCid(cid).ToString(), storage, cancellationToken).ConfigureAwait(false);
    }

    public Task<LockRecord?> ResolveLockAsync(string name, CancellationToken cancellationToken = default) =>
        _grainFactory.GetGrain<IDbLockGrain>(DbLockKeys.Default).ResolveAsync(name, cancellationToken);

    public Task<IReadOnlyList<LockRecord>> LockHistoryAsync(CancellationToken cancellationToken = default) =>
        _grainFactory.GetGrain<IDbLockGrain>(DbLockKeys.Default).HistoryAsync(cancellationToken);

    private static Cid ParseCid(string cid) =>
        Cid.TryParse(cid, out var parsed, out var error) ? parsed! : throw new InvalidStorageRequestException(error);

    private IStorageGrain Storage(string name)
    {
        if (!ClusterSpecValidation.IsValidName(name))
        {
            throw new ArgumentException($"Invalid storage cluster name '{name}': use 1-{ClusterSpecValidation.MaxNameLength} lower-case letters, digits or '-', starting and ending with a letter or digit.", nameof(name));
        }

        return _grainFactory.GetGrain<IStorageGrain>(name);
    }
}

/// <summary>
/// Fetches a DAG's blocks ahead of a depth-first reader: when a node arrives its children are queued, and up to
/// <c>window</c> of the queued blocks are fetched at once. Every block is still checked against its CID by the reader.
/// </summary>
internal sealed class BlockPrefetch(Func<Cid, CancellationToken, Task<byte[]?>> fetch, int window, CancellationToken cancellationToken)
{
    private readonly Dictionary<Cid, Task<byte[]?>> _pending = [];
    private readonly Queue<Cid> _queued = new();

    public async Task<byte[]?> GetAsync(Cid cid, CancellationToken ct)
    {
        var task = _pending.Remove(cid, out var started) ? started : fetch(cid, ct);
        var bytes = await task.ConfigureAwait(false);
        if (bytes is not null && cid.Codec == Multicodec.DagPb && cid.Verifies(bytes))
        {
            foreach (var child in DagPb.Children(new Block(cid, bytes)))
            {
                _queued.Enqueue(child);
            }
        }

        while (_pending.Count < window && _queued.TryDequeue(out var next))
        {
            if (!_pending.ContainsKey(next))
            {
                _pending[next] = fetch(next, cancellationToken);
            }
        }

        return bytes;
    }
}
