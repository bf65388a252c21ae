namespace MetaNode.Storage;

/// <summary>
/// Unsigned LEB128 varints: the multiformats <c>unsigned-varint</c> (CID prefixes, CAR section lengths) and protobuf's varint
/// (dag-pb and UnixFS fields) are the same encoding.
/// </summary>
internal static class Varint
{
    /// <summary>The longest encoding of a 64-bit value.</summary>
    public const int MaxLength = 10;

    public static int Length(ulong value)
    {
        var length = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }

        return length;
    }

    /// <summary>Writes <paramref name="value"/> at the start of <paramref name="destination"/>; returns the bytes written.</summary>
    public static int Write(Span<byte> destination, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }

    public static void Write(List<byte> destination, ulong value)
    {
        while (value >= 0x80)
        {
            destination.Add((byte)(value | 0x80));
            value >>= 7;
        }

        destination.Add((byte)value);
    }

    public static byte[] Encode(ulong value)
    {
        var bytes = new byte[Length(value)];
        Write(bytes, value);
        return bytes;
    }

    /// <summary>
    /// Reads a varint at the start of <paramref name="source"/>. Returns null (with <paramref name="error"/>) when it is truncated,
    /// overflows 64 bits, or — with <paramref name="minimal"/>, as multiformats requires — is not the shortest encoding.
    /// </summary>
    public static ulong? TryRead(ReadOnlySpan<byte> source, bool minimal, out int consumed, out string error)
    {
        ulong value = 0;
        for (var i = 0; i < MaxLength; i++)
        {
            if (i >= source.Length)
            {
                consumed = 0;
                error = "a varint is truncated (the input ends inside it)";
                return null;
            }

            var b = source[i];
            if (i == MaxLength - 1 && b > 1)
            {
                break;
            }

            value |= (ulong)(b & 0x7f) << (7 * i);
            if (b < 0x80)
            {
                if (minimal && b == 0 && i > 0)
                {
                    consumed = 0;
                    error = "a varint is not minimally encoded";
                    return null;
                }

                consumed = i + 1;
                error = string.Empty;
                return value;
            }
        }

        consumed = 0;
        error = "a varint overflows 64 bits";
        return null;
    }

    /// <summary><see cref="TryRead"/> that throws <see cref="FormatException"/> naming <paramref name="what"/>.</summary>
    public static ulong Read(ReadOnlySpan<byte> source, bool minimal, out int consumed, string what) =>
        TryRead(source, minimal, out consumed, out var error) ?? throw new FormatException($"{what}: {error}.");
}
