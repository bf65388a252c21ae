using MetaNode.Federation;

namespace MetaNode.Grains.Federation;

/// <summary>
/// Global feature standardization from the vPods' moments (counts, sums, sums of squares — never rows). Moments are added in
/// ordinal vPod-id order; then per feature <c>mean = Σx / n</c>, <c>variance = max(0, Σx² / n - mean²)</c> (population variance) and
/// <c>scale = √variance</c>, except that a feature with <c>variance ≤ 1e-12 · max(1, mean²)</c> (constant, e.g. an always-blank pixel)
/// gets scale 1 so it standardizes to 0 instead of blowing up.
/// </summary>
public static class StandardizationCombiner
{
    public const double RelativeVarianceFloor = 1e-12;

    public static Standardization Combine(IEnumerable<FeatureMoments> moments)
    {
        ArgumentNullException.ThrowIfNull(moments);
        var ordered = moments.OrderBy(m => m.VPodId, StringComparer.Ordinal).ToList();
        if (ordered.Count == 0)
        {
            throw new ArgumentException("No moments to combine.", nameof(moments));
        }

        var features = ordered[0].Sum.Length;
        var sum = new double[features];
        var squares = new double[features];
        long count = 0;
        for (var i = 0; i < ordered.Count; i++)
        {
            var m = ordered[i];
            if (i > 0 && string.Equals(ordered[i - 1].VPodId, m.VPodId, StringComparison.Ordinal))
            {
                throw new ArgumentException($"vPod '{m.VPodId}' reported moments twice.", nameof(moments));
            }

            if (m.Count < 0 || m.Sum.Length != features || m.SumOfSquares.Length != features)
            {
                throw new ArgumentException(
                    $"vPod '{m.VPodId}' reported {m.Count} rows with {m.Sum.Length} sums and {m.SumOfSquares.Length} sums of squares; expected {features} of each.",
                    nameof(moments));
            }

            count = checked(count + m.Count);
            for (var j = 0; j < features; j++)
            {
                sum[j] += m.Sum[j];
                squares[j] += m.SumOfSquares[j];
            }
        }

        if (count == 0)
        {
            throw new ArgumentException("The vPods reported no rows at all.", nameof(moments));
        }

        var mean = new double[features];
        var scale = new double[features];
        for (var j = 0; j < features; j++)
        {
            mean[j] = sum[j] / count;
            var variance = Math.Max(0, squares[j] / count - mean[j] * mean[j]);
            scale[j] = variance <= RelativeVarianceFloor * Math.Max(1, mean[j] * mean[j]) ? 1 : Math.Sqrt(variance);
            if (!double.IsFinite(mean[j]) || !double.IsFinite(scale[j]))
            {
                throw new ArgumentException($"Feature {j} has no finite mean and variance (sums too large?).", nameof(moments));
            }
        }

        return new Standardization(mean, scale);
    }

    /// <summary>The moments of in-memory rows (what a workload computes over its partition), for tests and central baselines.</summary>
    public static FeatureMoments Moments(string vpodId, TabularDataset data, IReadOnlyList<int> rows)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(rows);
        var sum = new double[data.Features];
        var squares = new double[data.Features];
        foreach (var row in rows)
        {
            var x = data.Row(row);
            for (var j = 0; j < x.Length; j++)
            {
                sum[j] += x[j];
                squares[j] += x[j] * x[j];
            }
        }

        return new FeatureMoments(vpodId, rows.Count, sum, squares);
    }
}
