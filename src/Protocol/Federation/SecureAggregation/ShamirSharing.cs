using System.Numerics;
using System.Security.Cryptography;

namespace MetaNode.Federation.SecureAggregation;

/// <summary>
/// Shamir's t-of-n secret sharing of 32-byte secrets over the prime field <c>p = 2^521 − 1</c>. Holder x-coordinates are the
/// holders' 1-based places among the job's participants; a share is 66 bytes big-endian.
/// </summary>
public static class ShamirSharing
{
    public const int ShareLength = 66;
    public static readonly BigInteger Prime = (BigInteger.One << 521) - 1;

    /// <summary>Shares <paramref name="secret"/> (32 bytes) for the given x-coordinates, threshold <paramref name="threshold"/>.</summary>
    public static Dictionary<int, byte[]> Split(ReadOnlySpan<byte> secret, int threshold, IEnumerable<int> xs)
    {
        if (secret.Length != 32)
        {
            throw new ArgumentException("A shared secret is 32 bytes.", nameof(secret));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 1);
        var coefficients = new BigInteger[threshold];
        coefficients[0] = new BigInteger(secret, isUnsigned: true, isBigEndian: true);
        for (var k = 1; k < threshold; k++)
        {
            coefficients[k] = RandomElement();
        }

        var shares = new Dictionary<int, byte[]>();
        foreach (var x in xs)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(x, 1);
            BigInteger value = 0;
            for (var k = threshold - 1; k >= 0; k--)
            {
                value = ((value * x) + coefficients[k]) % Prime;
            }

            shares[x] = ToBytes(value);
        }

        return shares;
    }

    /// <summary>
    /// The secret from the <paramref name="threshold"/> shares with the smallest x-coordinates; null when there are fewer, a share
    /// is malformed, or the result is not a 32-byte value.
    /// </summary>
    public static byte[]? Combine(IReadOnlyDictionary<int, byte[]> shares, int threshold)
    {
        ArgumentNullException.ThrowIfNull(shares);
        if (shares.Count < threshold || shares.Values.Any(s => s is not { Length: ShareLength }))
        {
            return null;
        }

        var points = shares.OrderBy(s => s.Key).Take(threshold).Select(s => (X: new BigInteger(s.Key), Y: new BigInteger(s.Value, isUnsigned: true, isBigEndian: true))).ToArray();
        if (points.Any(p => p.Y >= Prime))
        {
            return null;
        }

        BigInteger secret = 0;
        for (var i = 0; i < points.Length; i++)
        {
            BigInteger numerator = 1, denominator = 1;
            for (var m = 0; m < points.Length; m++)
            {
                if (m != i)
                {
                    numerator = numerator * points[m].X % Prime;
                    denominator = denominator * Mod(points[m].X - points[i].X) % Prime;
                }
            }

            secret = (secret + (points[i].Y * numerator % Prime * BigInteger.ModPow(denominator, Prime - 2, Prime))) % Prime;
        }

        if (secret >= BigInteger.One << 256)
        {
            return null;
        }

        var bytes = new byte[32];
        secret.TryWriteBytes(bytes.AsSpan(32 - secret.GetByteCount(isUnsigned: true)), out _, isUnsigned: true, isBigEndian: true);
        return bytes;
    }

    private static BigInteger Mod(BigInteger value) => ((value % Prime) + Prime) % Prime;

    private static byte[] ToBytes(BigInteger value)
    {
        var bytes = new byte[ShareLength];
        value.TryWriteBytes(bytes.AsSpan(ShareLength - value.GetByteCount(isUnsigned: true)), out _, isUnsigned: true, isBigEndian: true);
        return bytes;
    }

    private static BigInteger RandomElement()
    {
        Span<byte> buffer = stackalloc byte[ShareLength];
        while (true)
        {
            RandomNumberGenerator.Fill(buffer);
            buffer[0] &= 0x01;
            var value = new BigInteger(buffer, isUnsigned: true, isBigEndian: true);
            if (value < Prime)
            {
                return value;
            }
        }
    }
}
