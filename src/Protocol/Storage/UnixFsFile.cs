namespace MetaNode.Storage;

/// <summary>
/// A file as <c>ipfs add --cid-version 1</c> stores it: 262,144-byte chunks as raw leaves; a file of one chunk (or none) is that
/// raw block; a larger one is a balanced dag-pb tree of UnixFS file nodes with at most 174 links each.
/// </summary>
public static class UnixFsFile
{
    public const int ChunkSize = 262_144;
    public const int MaxLinks = 174;

    /// <summary>Streams the file's blocks, every block before any node linking to it; the last block is the root.</summary>
    public static IAsyncEnumerable<Block> ImportAsync(Stream content, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    public static IReadOnlyList<Block> Import(ReadOnlySpan<byte> content) => throw new NotImplementedException();

    /// <summary>The root CID of <paramref name="content"/>.</summary>
    public static Cid ComputeCid(ReadOnlySpan<byte> content) => throw new NotImplementedException();

    /// <summary>
    /// Writes the file under <paramref name="root"/> to <paramref name="output"/>, fetching blocks through <paramref name="getBlock"/>
    /// (which returns null for a block it cannot find). Every block is checked against its CID and every node's sizes against its
    /// children; throws <see cref="InvalidDataException"/> on any mismatch or a missing block. Returns the number of bytes written.
    /// </summary>
    public static Task<long> ExportAsync(Cid root, Func<Cid, CancellationToken, Task<byte[]?>> getBlock, Stream output, CancellationToken cancellationToken = default) => throw new NotImplementedException();
}
