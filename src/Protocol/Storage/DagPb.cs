namespace MetaNode.Storage;

/// <summary>A dag-pb link.</summary>
public sealed record DagLink(Cid Cid, string? Name, ulong? TotalSize);

/// <summary>A UnixFS <c>Data</c> message of a dag-pb node (only what file nodes use).</summary>
public sealed record UnixFsData(int Type, ReadOnlyMemory<byte> Data, ulong? FileSize, IReadOnlyList<ulong> BlockSizes)
{
    public const int FileType = 2;
}

/// <summary>Reads dag-pb nodes (the PBNode protobuf: links, then data).</summary>
public static class DagPb
{
    /// <summary>The node's links in order; throws <see cref="FormatException"/> on a malformed node.</summary>
    public static IReadOnlyList<DagLink> ReadLinks(ReadOnlySpan<byte> node) => throw new NotImplementedException();

    /// <summary>The node's UnixFS data; throws <see cref="FormatException"/> on a malformed node or one without data.</summary>
    public static UnixFsData ReadUnixFs(ReadOnlySpan<byte> node) => throw new NotImplementedException();

    /// <summary>The CIDs a block links to: none for a raw block, the links of a dag-pb node.</summary>
    public static IReadOnlyList<Cid> Children(Block block) => throw new NotImplementedException();
}
