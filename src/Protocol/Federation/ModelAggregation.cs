namespace MetaNode.Federation;

/// <summary>One model to combine, with the vPod it came from and its sample count.</summary>
public sealed record WeightedModel(string VPodId, long SampleCount, FederatedModel Model);

/// <summary>
/// Combines models coordinate by coordinate. Inputs are first put in canonical order (ordinal vPod id), so every validator does the
/// same floating-point operations in the same order and gets the same bytes whatever order the updates arrived in.
/// </summary>
public static class ModelAggregation
{
    /// <summary>Weighted FedAvg: <c>(Σ nᵤ·vᵤ[i]) / Σ nᵤ</c>, summed in canonical order.</summary>
    public static FederatedModel FederatedAverage(IReadOnlyCollection<WeightedModel> models)
    {
        var ordered = Canonical(models);
        var first = ordered[0].Model;
        var result = new double[first.Parameters.Length];
        long total = 0;
        foreach (var (_, samples, model) in ordered)
        {
            total = checked(total + samples);
            var weight = (double)samples;
            var values = model.Parameters;
            for (var i = 0; i < result.Length; i++)
            {
                result[i] += weight * values[i];
            }
        }

        var denominator = (double)total;
        for (var i = 0; i < result.Length; i++)
        {
            result[i] /= denominator;
        }

        return new FederatedModel(first.Classes, first.Features, result);
    }

    /// <summary>Coordinate-wise median (unweighted); an even count takes <c>(a + b) / 2</c> of the middle two.</summary>
    public static FederatedModel Median(IReadOnlyCollection<WeightedModel> models) =>
        Coordinatewise(models, column =>
        {
            var middle = column.Length / 2;
            return column.Length % 2 == 1 ? column[middle] : (column[middle - 1] + column[middle]) / 2;
        });

    /// <summary>Coordinate-wise trimmed mean (unweighted): drop the <c>floor(fraction·n)</c> lowest and highest values, average the rest in ascending order.</summary>
    public static FederatedModel TrimmedMean(IReadOnlyCollection<WeightedModel> models, double fraction)
    {
        if (fraction is not (>= 0 and < 0.5))
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "The trimmed fraction must be from 0 up to (not including) 0.5.");
        }

        return Coordinatewise(models, column =>
        {
            var trim = (int)Math.Floor(fraction * column.Length);
            var sum = 0.0;
            for (var i = trim; i < column.Length - trim; i++)
            {
                sum += column[i];
            }

            return sum / (column.Length - 2 * trim);
        });
    }

    public static FederatedModel Aggregate(IReadOnlyCollection<WeightedModel> models, AggregationRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return rule.Kind switch
        {
            AggregationKind.FederatedAverage => FederatedAverage(models),
            AggregationKind.Median => Median(models),
            AggregationKind.TrimmedMean => TrimmedMean(models, rule.TrimFraction),
            _ => throw new ArgumentException($"Aggregation rule '{rule}' is not supported.", nameof(rule)),
        };
    }

    /// <summary>Euclidean distance between two models of the same shape (the norm of an update's delta).</summary>
    public static double Distance(FederatedModel a, FederatedModel b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (!a.HasSameShape(b))
        {
            throw new ArgumentException($"Models of {a.Classes}×{a.Features} and {b.Classes}×{b.Features} cannot be compared.");
        }

        var sum = 0.0;
        for (var i = 0; i < a.Parameters.Length; i++)
        {
            var d = a.Parameters[i] - b.Parameters[i];
            sum += d * d;
        }

        return Math.Sqrt(sum);
    }

    /// <summary>Checks the inputs (at least one, one per vPod, positive sample counts, one shape) and sorts them by ordinal vPod id.</summary>
    public static WeightedModel[] Canonical(IReadOnlyCollection<WeightedModel> models)
    {
        ArgumentNullException.ThrowIfNull(models);
        if (models.Count == 0)
        {
            throw new ArgumentException("There is nothing to aggregate: no models.", nameof(models));
        }

        var ordered = models.OrderBy(m => m.VPodId, StringComparer.Ordinal).ToArray();
        for (var i = 0; i < ordered.Length; i++)
        {
            var current = ordered[i];
            if (current.SampleCount <= 0)
            {
                throw new ArgumentException($"vPod '{current.VPodId}' reports {current.SampleCount} samples; a model needs at least one.", nameof(models));
            }

            if (!current.Model.HasSameShape(ordered[0].Model))
            {
                throw new ArgumentException(
                    $"vPod '{current.VPodId}' sent a {current.Model.Classes}×{current.Model.Features} model; '{ordered[0].VPodId}' sent {ordered[0].Model.Classes}×{ordered[0].Model.Features}.",
                    nameof(models));
            }

            if (i > 0 && string.Equals(ordered[i - 1].VPodId, current.VPodId, StringComparison.Ordinal))
            {
                throw new ArgumentException($"vPod '{current.VPodId}' appears twice.", nameof(models));
            }
        }

        return ordered;
    }

    /// <summary>
    /// IEEE 754 total order on finite values: as <see cref="double.CompareTo(double)"/>, but -0.0 before 0.0, so a column's median
    /// has the same bits in every implementation whatever sorting algorithm it uses.
    /// </summary>
    private static readonly Comparison<double> TotalOrder = (a, b) => a != b ? a.CompareTo(b) : double.IsNegative(b).CompareTo(double.IsNegative(a));

    private static FederatedModel Coordinatewise(IReadOnlyCollection<WeightedModel> models, Func<double[], double> combine)
    {
        var ordered = Canonical(models);
        var first = ordered[0].Model;
        var result = new double[first.Parameters.Length];
        var column = new double[ordered.Length];
        for (var i = 0; i < result.Length; i++)
        {
            for (var m = 0; m < ordered.Length; m++)
            {
                column[m] = ordered[m].Model.Parameters[i];
            }

            Array.Sort(column, TotalOrder);
            result[i] = combine(column);
        }

        return new FederatedModel(first.Classes, first.Features, result);
    }
}
