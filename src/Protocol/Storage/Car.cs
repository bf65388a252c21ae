namespace MetaNode.Storage;

/// <summary>CARv1 archives (header: dag-cbor <c>{roots, version: 1}</c>; then varint-prefixed sections of CID ‖ block).</summary>
public static class Car
{
    public const string MediaType = "application/vnd.ipld.car";

    public static Task WriteHeaderAsync(Stream output, IReadOnlyList<Cid> roots, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    public static Task WriteBlockAsync(Stream output, Block block, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Reads a whole CAR; throws <see cref="FormatException"/> when it is malformed or a block does not hash to its CID.</summary>
    public static (IReadOnlyList<Cid> Roots, IReadOnlyList<Block> Blocks) Read(ReadOnlySpan<byte> car) => throw new NotImplementedException();
}
