namespace MetaNode.Federation;

/// <summary>
/// The robust rules' outlier check: an update whose distance from the global model (the norm of its delta) exceeds
/// <c>maxRatio</c> times the median distance of all updates is rejected. With fewer than <see cref="MinimumUpdates"/> updates the median
/// says nothing about outliers and every update is kept.
/// </summary>
public static class UpdateScreening
{
    public const int MinimumUpdates = 3;

    /// <summary>
    /// Honest non-IID updates differ in norm (larger partitions take more steps), a poisoned one by orders of magnitude: on digits with
    /// Dirichlet(0.5) over 10 vPods no honest update crosses 5× the median, while an update scaled by 50 lands near 50–200×.
    /// </summary>
    public const double DefaultMaxRatio = 5.0;

    public static (IReadOnlyList<WeightedModel> Accepted, IReadOnlyList<RejectedUpdate> Rejected) Screen(
        FederatedModel global,
        IReadOnlyCollection<WeightedModel> updates,
        double maxRatio = DefaultMaxRatio)
    {
        ArgumentNullException.ThrowIfNull(global);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(maxRatio, 1.0);
        var ordered = ModelAggregation.Canonical(updates);
        if (ordered.Length < MinimumUpdates)
        {
            return (ordered, []);
        }

        var distances = ordered.Select(u => ModelAggregation.Distance(u.Model, global)).ToArray();
        var sorted = distances.Order().ToArray();
        var middle = sorted.Length / 2;
        var median = sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
        var limit = maxRatio * median;
        var accepted = new List<WeightedModel>();
        var rejected = new List<RejectedUpdate>();
        for (var i = 0; i < ordered.Length; i++)
        {
            if (distances[i] > limit)
            {
                rejected.Add(new RejectedUpdate(ordered[i].VPodId, FormattableString.Invariant(
                    $"update norm {distances[i]:G6} is more than {maxRatio:G3}× the median norm {median:G6}")));
            }
            else
            {
                accepted.Add(ordered[i]);
            }
        }

        return (accepted, rejected);
    }
}
