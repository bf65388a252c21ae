namespace MetaNode.Storage;

/// <summary>The multicodecs a MetaNode CID may carry.</summary>
public enum Multicodec
{
    /// <summary>A block of bytes as they are (a file up to one chunk, or a leaf of a larger one).</summary>
    Raw = 0x55,

    /// <summary>A dag-pb node: a UnixFS file node linking to its chunks.</summary>
    DagPb = 0x70,
}

/// <summary>
/// A CIDv1 with a sha2-256 multihash, as IPFS writes it: binary <c>0x01 ‖ varint(codec) ‖ 0x12 0x20 ‖ digest</c>, text in
/// lower-case base32 with the multibase prefix <c>b</c>. Equal when codec and digest are equal.
/// </summary>
public sealed class Cid : IEquatable<Cid>
{
    private Cid(Multicodec codec, byte[] digest)
    {
        Codec = codec;
        Digest = digest;
    }

    public Multicodec Codec { get; }

    /// <summary>The 32-byte SHA-256 digest of the block.</summary>
    public ReadOnlyMemory<byte> Digest { get; }

    /// <summary>The CID of <paramref name="block"/> under <paramref name="codec"/>.</summary>
    public static Cid Of(Multicodec codec, ReadOnlySpan<byte> block) => throw new NotImplementedException();

    /// <summary>Parses the text form; throws <see cref="FormatException"/> naming what is wrong (CIDv0, another base, codec or hash).</summary>
    public static Cid Parse(string text) => throw new NotImplementedException();

    public static bool TryParse(string? text, out Cid? cid, out string error) => throw new NotImplementedException();

    /// <summary>Reads a binary CID at the start of <paramref name="bytes"/> (as in a dag-pb link or a CAR section).</summary>
    public static Cid Read(ReadOnlySpan<byte> bytes, out int consumed) => throw new NotImplementedException();

    public byte[] ToBytes() => throw new NotImplementedException();

    /// <summary>Whether <paramref name="block"/> hashes to this CID's digest.</summary>
    public bool Verifies(ReadOnlySpan<byte> block) => throw new NotImplementedException();

    public override string ToString() => throw new NotImplementedException();

    public bool Equals(Cid? other) => throw new NotImplementedException();

    public override bool Equals(object? obj) => Equals(obj as Cid);

    public override int GetHashCode() => throw new NotImplementedException();
}

/// <summary>A block and its CID.</summary>
public sealed record Block(Cid Cid, byte[] Data);
