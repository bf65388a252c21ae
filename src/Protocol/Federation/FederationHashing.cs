using Nethereum.Util;

namespace MetaNode.Federation;

/// <summary>Keccak-256 (Ethereum's, not NIST SHA3-256) and the <c>0x</c>-prefixed lower-case hex form hashes take in records and on chain.</summary>
public static class FederationHashing
{
    public const int HashLength = 32;

    public static byte[] Keccak256(ReadOnlySpan<byte> data) => Sha3Keccack.Current.CalculateHash(data.ToArray());

    public static string ToHex(ReadOnlySpan<byte> hash) => "0x" + Convert.ToHexStringLower(hash);

    /// <summary>Parses <c>0x</c> + 64 hex digits; throws <see cref="FormatException"/> naming the text.</summary>
    public static byte[] ParseHash(string text)
    {
        if (text is not { Length: 2 + 2 * HashLength } || !text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException($"'{text}' is not a 32-byte hash: expected 0x and 64 hex digits.");
        }

        try
        {
            return Convert.FromHexString(text.AsSpan(2));
        }
        catch (FormatException)
        {
            throw new FormatException($"'{text}' is not a 32-byte hash: expected 0x and 64 hex digits.");
        }
    }
}
