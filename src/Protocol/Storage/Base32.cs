namespace MetaNode.Storage;

/// <summary>RFC 4648 base32, lower-case alphabet, without padding (the multibase <c>b</c>).</summary>
internal static class Base32
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[(bytes.Length * 8 + 4) / 5];
        var buffer = 0;
        var bits = 0;
        var j = 0;
        foreach (var b in bytes)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                bits -= 5;
                chars[j++] = Alphabet[(buffer >> bits) & 31];
            }
        }

        if (bits > 0)
        {
            chars[j++] = Alphabet[(buffer << (5 - bits)) & 31];
        }

        return new string(chars, 0, j);
    }

    /// <summary>Decodes; null (with <paramref name="error"/>) on a character outside the alphabet, an impossible length or non-zero padding bits.</summary>
    public static byte[]? TryDecode(ReadOnlySpan<char> text, out string error)
    {
        var remainder = text.Length % 8;
        if (remainder is 1 or 3 or 6)
        {
            error = $"{text.Length} base32 characters cannot encode whole bytes";
            return null;
        }

        var bytes = new byte[text.Length * 5 / 8];
        var buffer = 0;
        var bits = 0;
        var j = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            int value = c switch
            {
                >= 'a' and <= 'z' => c - 'a',
                >= '2' and <= '7' => c - '2' + 26,
                _ => -1,
            };
            if (value < 0)
            {
                error = $"'{c}' at position {i} is not a lower-case base32 character (a-z, 2-7)";
                return null;
            }

            buffer = ((buffer << 5) | value) & 0xffff;
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                bytes[j++] = (byte)(buffer >> bits);
            }
        }

        if ((buffer & ((1 << bits) - 1)) != 0)
        {
            error = "the last base32 character has non-zero padding bits";
            return null;
        }

        error = string.Empty;
        return bytes;
    }
}
