using System.Runtime.CompilerServices;

namespace MetaNode.Storage;

/// <summary>
/// A file as <c>ipfs add --cid-version 1</c> stores it: 262,144-byte chunks as raw leaves; a file of one chunk (or none) is that
/// raw block; a larger one is a balanced dag-pb tree of UnixFS file nodes with at most 174 links each.
/// </summary>
/// <remarks>
/// Byte for byte what the JavaScript <c>ipfs-unixfs-importer</c> (17.x: raw leaves, fixed-size chunker, balanced layout) builds:
/// <list type="bullet">
/// <item>an empty file is one empty raw leaf, whose CID is the file's;</item>
/// <item>leaves are grouped 174 at a time into nodes, those nodes 174 at a time into the next level, until a level has one node:
/// the root; a trailing group of one still gets its own node (only a file of a single chunk is its leaf);</item>
/// <item>a node's links come before its data and carry <c>Name = ""</c> and <c>Tsize</c> (a leaf's length; a node's own length
/// plus its links' Tsize); its data is <c>{Type: file, filesize, blocksizes}</c> where a blocksize is a child's file bytes.</item>
/// </list>
/// </remarks>
public static class UnixFsFile
{
    public const int ChunkSize = 262_144;
    public const int MaxLinks = 174;

    /// <summary>How deep <see cref="ExportAsync"/> follows links (a balanced tree of a petabyte is 5 levels deep).</summary>
    public const int MaxDepth = 32;

    /// <summary>Streams the file's blocks, every block before any node linking to it; the last block is the root.</summary>
    /// <remarks>Holds one chunk and at most 173 pending links per tree level, never the whole file.</remarks>
    public static IAsyncEnumerable<Block> ImportAsync(Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        return ImportCoreAsync(content, cancellationToken);
    }

    /// <summary>The file's blocks in the order <see cref="ImportAsync"/> yields them; the last block is the root.</summary>
    public static IReadOnlyList<Block> Import(ReadOnlySpan<byte> content)
    {
        var blocks = new List<Block>();
        var builder = new TreeBuilder(blocks);
        var offset = 0;
        do
        {
            var chunk = content.Slice(offset, Math.Min(ChunkSize, content.Length - offset)).ToArray();
            var leaf = new Block(Cid.Of(Multicodec.Raw, chunk), chunk);
            blocks.Add(leaf);
            builder.AddLeaf(leaf.Cid, chunk.Length);
            offset += chunk.Length;
        }
        while (offset < content.Length);

        builder.Finish();
        return blocks;
    }

    /// <summary>The root CID of <paramref name="content"/>.</summary>
    public static Cid ComputeCid(ReadOnlySpan<byte> content)
    {
        var builder = new TreeBuilder(emitted: null);
        var offset = 0;
        do
        {
            var chunk = content.Slice(offset, Math.Min(ChunkSize, content.Length - offset));
            builder.AddLeaf(Cid.Of(Multicodec.Raw, chunk), chunk.Length);
            offset += chunk.Length;
        }
        while (offset < content.Length);

        return builder.Finish();
    }

    /// <summary>
    /// Writes the file under <paramref name="root"/> to <paramref name="output"/>, fetching blocks through <paramref name="getBlock"/>
    /// (which returns null for a block it cannot find). Every block is checked against its CID and every node's sizes against its
    /// children; throws <see cref="InvalidDataException"/> on any mismatch or a missing block. Returns the number of bytes written.
    /// </summary>
    /// <remarks>
    /// Walks depth-first in link order, holding one block per level. A child's size is checked against its parent's blocksize
    /// before its bytes are written, so a lying node stops the export at the first child it misstates.
    /// </remarks>
    public static async Task<long> ExportAsync(Cid root, Func<Cid, CancellationToken, Task<byte[]?>> getBlock, Stream output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(getBlock);
        ArgumentNullException.ThrowIfNull(output);
        var written = await ExportNodeAsync(root, expectedSize: null, depth: 0, getBlock, output, cancellationToken);
        return written <= long.MaxValue ? (long)written : throw new InvalidDataException($"file {root} is larger than {long.MaxValue} bytes.");
    }

    private static async IAsyncEnumerable<Block> ImportCoreAsync(Stream content, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var emitted = new List<Block>();
        var builder = new TreeBuilder(emitted);
        var first = true;
        while (true)
        {
            var chunk = new byte[ChunkSize];
            var read = await content.ReadAtLeastAsync(chunk, ChunkSize, throwOnEndOfStream: false, cancellationToken);
            if (read == 0 && !first)
            {
                break;
            }

            first = false;
            if (read < ChunkSize)
            {
                Array.Resize(ref chunk, read);
            }

            var leaf = new Block(Cid.Of(Multicodec.Raw, chunk), chunk);
            yield return leaf;
            builder.AddLeaf(leaf.Cid, read);
            foreach (var node in emitted)
            {
                yield return node;
            }

            emitted.Clear();
            if (read < ChunkSize)
            {
                break;
            }
        }

        builder.Finish();
        foreach (var node in emitted)
        {
            yield return node;
        }
    }

    private static async Task<ulong> ExportNodeAsync(
        Cid cid, ulong? expectedSize, int depth, Func<Cid, CancellationToken, Task<byte[]?>> getBlock, Stream output, CancellationToken cancellationToken)
    {
        if (depth > MaxDepth)
        {
            throw new InvalidDataException($"block {cid} is more than {MaxDepth} links below the root.");
        }

        var block = await getBlock(cid, cancellationToken) ?? throw new InvalidDataException($"block {cid} is missing.");
        if (!cid.Verifies(block))
        {
            throw new InvalidDataException($"block {cid} does not hash to its CID ({block.Length} bytes, sha2-256 {Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(block))}).");
        }

        if (cid.Codec == Multicodec.Raw)
        {
            if (expectedSize is { } expected && expected != (ulong)block.Length)
            {
                throw new InvalidDataException($"raw block {cid} holds {block.Length} bytes, but its parent says {expected}.");
            }

            await output.WriteAsync(block, cancellationToken);
            return (ulong)block.Length;
        }

        IReadOnlyList<DagLink> links;
        UnixFsData data;
        try
        {
            links = DagPb.ReadLinks(block);
            data = DagPb.ReadUnixFs(block);
        }
        catch (FormatException exception)
        {
            throw new InvalidDataException($"block {cid} is not a valid UnixFS node: {exception.Message}", exception);
        }

        if (data.Type != UnixFsData.FileType)
        {
            throw new InvalidDataException($"block {cid} is a UnixFS {TypeName(data.Type)}, not a file.");
        }

        if (data.BlockSizes.Count != links.Count)
        {
            throw new InvalidDataException($"block {cid} has {links.Count} links but {data.BlockSizes.Count} blocksizes.");
        }

        ulong declared = (ulong)data.Data.Length;
        foreach (var size in data.BlockSizes)
        {
            declared = declared + size >= declared ? declared + size : throw new InvalidDataException($"block {cid}'s blocksizes overflow 64 bits.");
        }

        if (data.FileSize is { } fileSize && fileSize != declared)
        {
            throw new InvalidDataException($"block {cid} says filesize {fileSize}, but its data and blocksizes add up to {declared}.");
        }

        if (expectedSize is { } parentSays && parentSays != declared)
        {
            throw new InvalidDataException($"block {cid} holds {declared} bytes, but its parent says {parentSays}.");
        }

        if (!data.Data.IsEmpty)
        {
            await output.WriteAsync(data.Data, cancellationToken);
        }

        var written = (ulong)data.Data.Length;
        for (var i = 0; i < links.Count; i++)
        {
            var delivered = await ExportNodeAsync(links[i].Cid, data.BlockSizes[i], depth + 1, getBlock, output, cancellationToken);
            if (delivered != data.BlockSizes[i])
            {
                throw new InvalidDataException($"block {cid}'s link {i} ({links[i].Cid}) delivered {delivered} bytes, but its blocksize is {data.BlockSizes[i]}.");
            }

            written += delivered;
        }

        return written;
    }

    private static string TypeName(int type) => type switch
    {
        0 => "raw node",
        1 => "directory",
        3 => "metadata node",
        4 => "symlink",
        5 => "HAMT-sharded directory",
        _ => $"node of type {type}",
    };

    /// <summary>A link waiting for its parent: the child's CID, its Tsize and the file bytes under it.</summary>
    private readonly record struct PendingLink(Cid Cid, ulong TotalSize, ulong FileSize);

    /// <summary>
    /// The balanced layout, streamed: level 0 collects leaves, level k nodes of level k−1; a level that reaches 174 links becomes a
    /// node at once. At the end each level's remainder becomes a node too, unless the level holds the only item it ever had —
    /// then that item is the root (for level 0: a file of one chunk is its leaf).
    /// </summary>
    private sealed class TreeBuilder(List<Block>? emitted)
    {
        private readonly List<List<PendingLink>> _levels = [];
        private readonly List<long> _totals = [];

        public void AddLeaf(Cid cid, int length) => Add(0, new PendingLink(cid, (ulong)length, (ulong)length));

        /// <summary>Builds the remaining nodes; returns the root.</summary>
        public Cid Finish()
        {
            for (var level = 0; level < _levels.Count; level++)
            {
                var pending = _levels[level];
                if (_totals[level] == 1)
                {
                    return pending[0].Cid;
                }

                if (pending.Count > 0)
                {
                    Add(level + 1, BuildNode(pending));
                    pending.Clear();
                }
            }

            throw new InvalidOperationException("a file has at least one leaf.");
        }

        private void Add(int level, PendingLink link)
        {
            if (level == _levels.Count)
            {
                _levels.Add(new List<PendingLink>(MaxLinks));
                _totals.Add(0);
            }

            var pending = _levels[level];
            pending.Add(link);
            _totals[level]++;
            if (pending.Count == MaxLinks)
            {
                var node = BuildNode(pending);
                pending.Clear();
                Add(level + 1, node);
            }
        }

        private PendingLink BuildNode(List<PendingLink> children)
        {
            var links = new DagLink[children.Count];
            var blockSizes = new ulong[children.Count];
            ulong totalSize = 0;
            ulong fileSize = 0;
            for (var i = 0; i < children.Count; i++)
            {
                links[i] = new DagLink(children[i].Cid, string.Empty, children[i].TotalSize);
                blockSizes[i] = children[i].FileSize;
                totalSize += children[i].TotalSize;
                fileSize += children[i].FileSize;
            }

            var bytes = DagPb.EncodeFileNode(links, blockSizes);
            var cid = Cid.Of(Multicodec.DagPb, bytes);
            emitted?.Add(new Block(cid, bytes));
            return new PendingLink(cid, (ulong)bytes.Length + totalSize, fileSize);
        }
    }
}
