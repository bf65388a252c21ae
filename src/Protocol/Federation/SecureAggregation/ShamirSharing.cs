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

        var coefficients = LagrangeAtZero([.. points.Select(p => (int)p.X)]);
        BigInteger secret = 0;
        for (var i = 0; i < points.Length; i++)
        {
            secret = (secret + (points[i].Y * coefficients[i])) % Prime;
        }

        if (secret >= BigInteger.One << 256)
        {
            return null;
        }

        var bytes = new byte[32];
        secret.TryWriteBytes(bytes.AsSpan(32 - secret.GetByteCount(isUnsigned: true)), out _, isUnsigned: true, isBigEndian: true);
        return bytes;
    }

    /// <summary>
    /// The Lagrange coefficients at 0 for x-coordinates <paramref name="xs"/>. A round rebuilds most secrets from the same t holders,
    /// so they are computed once per set (one modular inverse each) and kept.
    /// </summary>
    private static BigInteger[] LagrangeAtZero(int[] xs)
    {
        var key = string.Join(',', xs);
        if (Coefficients.TryGetValue(key, out var cached))
        {
            return cached;
        }

        // c_i = Π_{m≠i} x_m / Π_{m≠i} (x_m − x_i). All denominators are inverted with one modular exponentiation (Montgomery's
        // batch inversion: invert their product, then peel each one off), the costly step with a 521-bit prime.
        var numerators = new BigInteger[xs.Length];
        var denominators = new BigInteger[xs.Length];
        for (var i = 0; i < xs.Length; i++)
        {
            BigInteger numerator = 1, denominator = 1;
            for (var m = 0; m < xs.Length; m++)
            {
                if (m != i)
                {
                    numerator = numerator * xs[m] % Prime;
                    denominator = denominator * Mod(xs[m] - xs[i]) % Prime;
                }
            }

            numerators[i] = numerator;
            denominators[i] = denominator;
        }

        var prefix = new BigInteger[xs.Length + 1];
        prefix[0] = 1;
        for (var i = 0; i < xs.Length; i++)
        {
            prefix[i + 1] = prefix[i] * denominators[i] % Prime;
        }

        var inverse = BigInteger.ModPow(prefix[xs.Length], Prime - 2, Prime);
        var result = new BigInteger[xs.Length];
        for (var i = xs.Length - 1; i >= 0; i--)
        {
            // inverse = 1 / (d_0 ⋯ d_i): times the product of the others gives 1 / d_i.
            result[i] = numerators[i] * (inverse * prefix[i] % Prime) % Prime;
            inverse = inverse * denominators[i] % Prime;
        }

        if (Coefficients.Count > 4096)
        {
            Coefficients.Clear();
        }

        Coefficients[key] = result;
        return result;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, BigInteger[]> Coefficients = new(StringComparer.Ordinal);

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
