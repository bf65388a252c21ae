using System.Globalization;
using System.Text;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Util;

namespace MetaNode.Chain;

/// <summary>Parsing and formatting of the registry's values: addresses, bytes32 hashes, job ids.</summary>
public static class HexValues
{
    public static bool IsHex(string? value, int bytes)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }

        var digits = value.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? value.AsSpan(2) : value.AsSpan();
        if (digits.Length != bytes * 2)
        {
            return false;
        }

        foreach (var c in digits)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    public static bool IsAddress(string? value) => value is not null && value.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && IsHex(value, 20);

    /// <summary>Lower-case 0x address, the form used as grain keys and in comparisons.</summary>
    public static string NormalizeAddress(string address, string what = "address")
    {
        if (!IsAddress(address))
        {
            throw new InvalidChainRequestException($"{what} must be a 0x-prefixed 20-byte address, got '{address}'.");
        }

        return address.ToLowerInvariant();
    }

    public static string Checksum(string address) => AddressUtil.Current.ConvertToChecksumAddress(address);

    /// <summary>A 0x-prefixed 32-byte hex value as bytes; the message names the field.</summary>
    public static byte[] ParseBytes32(string? value, string what)
    {
        if (!IsHex(value, 32))
        {
            throw new InvalidChainRequestException($"{what} must be 32 bytes of hex (0x + 64 hex digits), got '{value}'.");
        }

        return value!.HexToByteArray();
    }

    public static string ToHex(byte[] bytes) => bytes.ToHex(prefix: true);

    /// <summary>The job id as a bytes32: its UTF-8 bytes, right-padded with zeros (readable with <c>cast --to-ascii</c>).</summary>
    public static byte[] JobIdToBytes32(string jobId)
    {
        if (string.IsNullOrWhiteSpace(jobId))
        {
            throw new InvalidChainRequestException("job id must not be empty.");
        }

        var utf8 = Encoding.UTF8.GetBytes(jobId);
        if (utf8.Length > 32)
        {
            throw new InvalidChainRequestException($"job id '{jobId}' is {utf8.Length} bytes of UTF-8; the registry stores at most 32.");
        }

        if (utf8.Contains((byte)0))
        {
            throw new InvalidChainRequestException("job id must not contain NUL characters.");
        }

        var result = new byte[32];
        utf8.CopyTo(result, 0);
        return result;
    }

    public static string JobIdFromBytes32(byte[] value)
    {
        var length = Array.IndexOf(value, (byte)0);
        return Encoding.UTF8.GetString(value, 0, length < 0 ? value.Length : length);
    }

    public static void ValidateRound(long round)
    {
        if (round < 0)
        {
            throw new InvalidChainRequestException($"round must be 0 or positive, got '{round.ToString(CultureInfo.InvariantCulture)}'.");
        }
    }
}
