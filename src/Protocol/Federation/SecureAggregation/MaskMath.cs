using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace MetaNode.Federation.SecureAggregation;

/// <summary>
/// The arithmetic of masking, specified bit for bit (<c>examples/workload-protocol.md</c>, "Secure aggregation"): stochastic
/// quantization of a weighted, clipped delta into <c>[0, Q)</c>, the SHA-256 counter-mode PRG that expands a 32-byte seed into
/// <c>uint32</c> masks, and dequantization of an unmasked sum. All vector arithmetic wraps modulo 2^32.
/// </summary>
public static class MaskMath
{
    public const string MaskInfo = "metanode/secagg/mask/1";
    public const string ShareInfo = "metanode/secagg/share/1";

    /// <summary>The weight of a participant: its assigned samples over the largest assigned count.</summary>
    public static double Weight(long samples, long maxSamples) => (double)samples / maxSamples;

    /// <summary>Quantizes <c>(update − global) · weight</c>, clipped to ±c, with one SplitMix64 draw per parameter.</summary>
    public static uint[] Quantize(ReadOnlySpan<double> update, ReadOnlySpan<double> global, double weight, ulong seed)
    {
        if (update.Length != global.Length)
        {
            throw new ArgumentException($"The update has {update.Length} parameters and the global model {global.Length}.", nameof(update));
        }

        var rng = new SplitMix64(seed);
        var result = new uint[update.Length];
        for (var k = 0; k < update.Length; k++)
        {
            var v = (update[k] - global[k]) * weight;
            v = v < -SecAggParameters.ClippingRange ? -SecAggParameters.ClippingRange : v > SecAggParameters.ClippingRange ? SecAggParameters.ClippingRange : v;
            var y = (v + SecAggParameters.ClippingRange) * SecAggParameters.Scale;
            var f = Math.Floor(y);
            var u = (rng.Next() >> 11) * (1.0 / (1UL << 53));
            result[k] = (uint)f + (u < y - f ? 1u : 0u);
        }

        return result;
    }

    /// <summary>The new global model from the unmasked sum of <paramref name="count"/> quantized vectors whose weights add up to <paramref name="totalWeight"/>.</summary>
    public static double[] Dequantize(ReadOnlySpan<uint> sum, ReadOnlySpan<double> global, int count, double totalWeight)
    {
        var result = new double[sum.Length];
        for (var k = 0; k < sum.Length; k++)
        {
            result[k] = global[k] + (((sum[k] / SecAggParameters.Scale) - (count * SecAggParameters.ClippingRange)) / totalWeight);
        }

        return result;
    }

    /// <summary>Adds <c>sign · PRG(seed)</c> to <paramref name="vector"/> in place (mod 2^32).</summary>
    public static void AddPrg(Span<uint> vector, ReadOnlySpan<byte> seed, bool subtract = false)
    {
        if (seed.Length != 32)
        {
            throw new ArgumentException("A PRG seed is 32 bytes.", nameof(seed));
        }

        Span<byte> input = stackalloc byte[40];
        Span<byte> block = stackalloc byte[32];
        seed.CopyTo(input);
        for (var j = 0; j < vector.Length; j += 8)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(input[32..], (ulong)(j / 8));
            SHA256.HashData(input, block);
            for (var w = 0; w < 8 && j + w < vector.Length; w++)
            {
                var word = BinaryPrimitives.ReadUInt32LittleEndian(block[(4 * w)..]);
                vector[j + w] = unchecked(subtract ? vector[j + w] - word : vector[j + w] + word);
            }
        }
    }

    /// <summary>The first <paramref name="length"/> words of <c>PRG(seed)</c>.</summary>
    public static uint[] Prg(ReadOnlySpan<byte> seed, int length)
    {
        var words = new uint[length];
        AddPrg(words, seed);
        return words;
    }

    /// <summary>HKDF-SHA256 with an empty salt: 32 bytes for <paramref name="info"/>.</summary>
    public static byte[] Hkdf(ReadOnlySpan<byte> secret, string info) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, secret.ToArray(), 32, [], Encoding.UTF8.GetBytes(info));

    /// <summary>Adds (or subtracts) <paramref name="other"/> to <paramref name="vector"/> in place (mod 2^32).</summary>
    public static void Add(Span<uint> vector, ReadOnlySpan<uint> other, bool subtract = false)
    {
        for (var k = 0; k < vector.Length; k++)
        {
            vector[k] = unchecked(subtract ? vector[k] - other[k] : vector[k] + other[k]);
        }
    }
}
