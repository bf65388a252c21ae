using MetaNode.Federation;

namespace MetaNode.Grains.Federation;

/// <summary>
/// A seeded generator whose every draw is specified, so partitions and synthetic data are identical for a seed on any machine and
/// .NET version (unlike <see cref="Random"/>, whose seeded sequence is not a documented contract). Bits come from SplitMix64;
/// uniforms are the top 53 bits / 2⁵³; normals use Box–Muller (one value per pair of uniforms); gammas Marsaglia–Tsang.
/// </summary>
public sealed class DeterministicRandom(ulong seed)
{
    private SplitMix64 _bits = new(seed);

    public ulong NextUInt64() => _bits.Next();

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>0 ≤ value &lt; <paramref name="bound"/> (by modulo; the bias is below 2⁻³² for any bound that fits an int).</summary>
    public int NextInt(int bound)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bound, 1);
        return (int)(NextUInt64() % (ulong)bound);
    }

    /// <summary>Fisher–Yates from the last position down.</summary>
    public void Shuffle<T>(IList<T> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        for (var i = values.Count - 1; i > 0; i--)
        {
            var j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    public double NextNormal(double mean = 0, double standardDeviation = 1)
    {
        var u1 = 1.0 - NextDouble();
        var u2 = NextDouble();
        return mean + standardDeviation * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Gamma(shape, 1) by Marsaglia and Tsang (2000); shape &lt; 1 through Gamma(shape + 1)·U^(1/shape).</summary>
    public double NextGamma(double shape)
    {
        if (!(shape > 0) || !double.IsFinite(shape))
        {
            throw new ArgumentOutOfRangeException(nameof(shape), shape, "The gamma shape must be a positive number.");
        }

        if (shape < 1)
        {
            var boost = Math.Pow(1.0 - NextDouble(), 1.0 / shape);
            return NextGamma(shape + 1) * boost;
        }

        var d = shape - 1.0 / 3.0;
        var c = 1.0 / Math.Sqrt(9.0 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = NextNormal();
                v = 1.0 + c * x;
            }
            while (v <= 0);

            v = v * v * v;
            var u = 1.0 - NextDouble();
            if (Math.Log(u) < 0.5 * x * x + d - d * v + d * Math.Log(v))
            {
                return d * v;
            }
        }
    }

    /// <summary>A draw from the symmetric Dirichlet(α, …, α) over <paramref name="count"/> parts.</summary>
    public double[] NextDirichlet(int count, double alpha)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var values = new double[count];
        var sum = 0.0;
        for (var i = 0; i < count; i++)
        {
            values[i] = NextGamma(alpha);
            sum += values[i];
        }

        if (sum <= 0)
        {
            // Every gamma underflowed (tiny α): all the mass goes to one part, chosen uniformly.
            values[NextInt(count)] = 1;
            return values;
        }

        for (var i = 0; i < count; i++)
        {
            values[i] /= sum;
        }

        return values;
    }
}
