using System.Buffers.Binary;
using System.Security.Cryptography;

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
    /// <summary>The multihash code of sha2-256.</summary>
    public const int Sha256Code = 0x12;

    /// <summary>The length of a sha2-256 digest.</summary>
    public const int DigestLength = 32;

    /// <summary>The length of a binary CID: version, codec (one varint byte for both codecs), hash code, digest length, digest.</summary>
    public const int BinaryLength = 4 + DigestLength;

    private const string CidV0Message = "CIDv0 is not supported; use the CIDv1 form (ipfs cid format -v 1 -b base32)";

    private readonly byte[] _digest;
    private string? _text;

    private Cid(Multicodec codec, byte[] digest)
    {
        Codec = codec;
        _digest = digest;
        Digest = digest;
    }

    public Multicodec Codec { get; }

    /// <summary>The 32-byte SHA-256 digest of the block.</summary>
    public ReadOnlyMemory<byte> Digest { get; }

    /// <summary>The CID of <paramref name="block"/> under <paramref name="codec"/>.</summary>
    public static Cid Of(Multicodec codec, ReadOnlySpan<byte> block)
    {
        if (codec is not (Multicodec.Raw or Multicodec.DagPb))
        {
            throw new ArgumentOutOfRangeException(nameof(codec), codec, "only raw (0x55) and dag-pb (0x70) are supported.");
        }

        return new Cid(codec, SHA256.HashData(block));
    }

    /// <summary>Parses the text form; throws <see cref="FormatException"/> naming what is wrong (CIDv0, another base, codec or hash).</summary>
    public static Cid Parse(string text) =>
        TryParse(text, out var cid, out var error) ? cid! : throw new FormatException(error);

    /// <summary>Parses the text form; false with <paramref name="error"/> naming what is wrong.</summary>
    public static bool TryParse(string? text, out Cid? cid, out string error)
    {
        cid = null;
        if (string.IsNullOrEmpty(text))
        {
            error = "A CID cannot be empty.";
            return false;
        }

        if (text.StartsWith("Qm", StringComparison.Ordinal))
        {
            error = $"'{Shorten(text)}' is a CIDv0: {CidV0Message}.";
            return false;
        }

        if (text[0] != 'b')
        {
            error = $"'{Shorten(text)}' uses the multibase prefix '{text[0]}'; only 'b' (base32, lower case, no padding) is supported.";
            return false;
        }

        var bytes = Base32.TryDecode(text.AsSpan(1), out var base32Error);
        if (bytes is null)
        {
            error = $"'{Shorten(text)}' is not valid base32: {base32Error}.";
            return false;
        }

        var parsed = TryRead(bytes, out var consumed, out var readError);
        if (parsed is null)
        {
            error = $"'{Shorten(text)}' is not a supported CID: {readError}";
            return false;
        }

        if (consumed != bytes.Length)
        {
            error = $"'{Shorten(text)}' has {bytes.Length - consumed} trailing bytes after the CID.";
            return false;
        }

        parsed._text = text;
        cid = parsed;
        error = string.Empty;
        return true;
    }

    /// <summary>Reads a binary CID at the start of <paramref name="bytes"/> (as in a dag-pb link or a CAR section).</summary>
    public static Cid Read(ReadOnlySpan<byte> bytes, out int consumed) =>
        TryRead(bytes, out consumed, out var error) ?? throw new FormatException(error);

    public byte[] ToBytes()
    {
        var bytes = new byte[BinaryLength];
        WriteTo(bytes);
        return bytes;
    }

    /// <summary>Writes the binary form (<see cref="BinaryLength"/> bytes) at the start of <paramref name="destination"/>.</summary>
    public void WriteTo(Span<byte> destination)
    {
        destination[0] = 0x01;
        destination[1] = (byte)Codec;
        destination[2] = Sha256Code;
        destination[3] = DigestLength;
        _digest.CopyTo(destination[4..]);
    }

    /// <summary>Whether <paramref name="block"/> hashes to this CID's digest.</summary>
    public bool Verifies(ReadOnlySpan<byte> block)
    {
        Span<byte> digest = stackalloc byte[DigestLength];
        SHA256.HashData(block, digest);
        return CryptographicOperations.FixedTimeEquals(digest, _digest);
    }

    public override string ToString() => _text ??= "b" + Base32.Encode(ToBytes());

    public bool Equals(Cid? other) =>
        other is not null && Codec == other.Codec && _digest.AsSpan().SequenceEqual(other._digest);

    public override bool Equals(object? obj) => Equals(obj as Cid);

    public override int GetHashCode() => HashCode.Combine(Codec, BinaryPrimitives.ReadInt32LittleEndian(_digest));

    private static Cid? TryRead(ReadOnlySpan<byte> bytes, out int consumed, out string error)
    {
        consumed = 0;
        if (bytes.IsEmpty)
        {
            error = "a CID cannot be empty.";
            return null;
        }

        if (bytes.Length >= 2 && bytes[0] == Sha256Code && bytes[1] == DigestLength)
        {
            error = $"the bytes are a CIDv0 (a bare sha2-256 multihash): {CidV0Message}.";
            return null;
        }

        var version = Varint.TryRead(bytes, minimal: true, out var read, out var varintError);
        if (version is null)
        {
            error = $"the CID version is unreadable: {varintError}.";
            return null;
        }

        if (version != 1)
        {
            error = $"CID version {version} is not supported; only CIDv1.";
            return null;
        }

        var position = read;
        var codec = Varint.TryRead(bytes[position..], minimal: true, out read, out varintError);
        if (codec is null)
        {
            error = $"the CID codec is unreadable: {varintError}.";
            return null;
        }

        if (codec is not ((ulong)Multicodec.Raw or (ulong)Multicodec.DagPb))
        {
            error = $"codec 0x{codec:x} is not supported; only raw (0x55) and dag-pb (0x70).";
            return null;
        }

        position += read;
        var hash = Varint.TryRead(bytes[position..], minimal: true, out read, out varintError);
        if (hash is null)
        {
            error = $"the multihash code is unreadable: {varintError}.";
            return null;
        }

        if (hash != Sha256Code)
        {
            error = $"multihash 0x{hash:x} is not supported; only sha2-256 (0x12).";
            return null;
        }

        position += read;
        var length = Varint.TryRead(bytes[position..], minimal: true, out read, out varintError);
        if (length is null)
        {
            error = $"the multihash length is unreadable: {varintError}.";
            return null;
        }

        if (length != DigestLength)
        {
            error = $"a sha2-256 multihash of {length} bytes is not supported; only the full 32-byte digest.";
            return null;
        }

        position += read;
        if (bytes.Length - position < DigestLength)
        {
            error = $"the digest is truncated ({bytes.Length - position} of 32 bytes).";
            return null;
        }

        consumed = position + DigestLength;
        error = string.Empty;
        return new Cid((Multicodec)codec.Value, bytes.Slice(position, DigestLength).ToArray());
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : string.Concat(text.AsSpan(0, 77), "...");
}

/// <summary>A block and its CID.</summary>
public sealed record Block(Cid Cid, byte[] Data);
