using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.Federation.SecureAggregation;

namespace MetaNode.Grains.Federation;

/// <summary>What moves a job from one phase to the next.</summary>
public enum FederatedJobTrigger
{
    None = 0,
    Prepared = 1,
    Dispatched = 2,
    RoundClosed = 3,
    QuorumReached = 4,
    Confirmed = 5,
    Cancel = 6,
    Fail = 7,
}

/// <summary>What to do with a round in training: keep waiting, close it with the updates in, or give up.</summary>
public enum RoundCloseAction
{
    Wait = 0,
    Close = 1,
    Fail = 2,
}

/// <summary>The decision about a round in training, with the reason when it fails.</summary>
public sealed record RoundCloseDecision(RoundCloseAction Action, string? Reason = null);

/// <summary>
/// How validators voted on a round: the result k of them signed (null when none reached the quorum), the votes that
/// back it, and the validators that signed something else or nothing.
/// </summary>
public sealed record VoteTally(
    ValidatorVote? Agreed,
    IReadOnlyList<ValidatorVote> Agreeing,
    IReadOnlyList<string> Disagreeing,
    IReadOnlyList<string> Silent,
    int LargestGroup = 0)
{
    public bool HasQuorum => Agreed is not null;
}

/// <summary>
/// The federated job's decisions, as pure functions the grain applies: phase transitions, when a round closes, and
/// which result the validators agreed on.
/// <code>
/// Preparing ─Prepared→ Dispatching ─Dispatched→ Training ─RoundClosed→ Aggregating ─QuorumReached→ Finalizing
///   Finalizing ─Confirmed→ Dispatching (next round) | Completed (last round)
///   any active phase ─Cancel→ Cancelled, ─Fail→ Failed
/// </code>
/// </summary>
public static class FederatedJobStateMachine
{
    public static bool IsActive(FederatedJobPhase phase) =>
        phase is FederatedJobPhase.Preparing or FederatedJobPhase.Dispatching or FederatedJobPhase.Training
            or FederatedJobPhase.Aggregating or FederatedJobPhase.Finalizing;

    /// <summary>The phase after <paramref name="trigger"/>; throws <see cref="InvalidJobOperationException"/> when the trigger does not apply.</summary>
    public static FederatedJobPhase Next(FederatedJobPhase phase, FederatedJobTrigger trigger, bool lastRound = false)
    {
        var next = (phase, trigger) switch
        {
            (FederatedJobPhase.Preparing, FederatedJobTrigger.Prepared) => FederatedJobPhase.Dispatching,
            (FederatedJobPhase.Dispatching, FederatedJobTrigger.Dispatched) => FederatedJobPhase.Training,
            (FederatedJobPhase.Training, FederatedJobTrigger.RoundClosed) => FederatedJobPhase.Aggregating,
            (FederatedJobPhase.Aggregating, FederatedJobTrigger.QuorumReached) => FederatedJobPhase.Finalizing,
            (FederatedJobPhase.Finalizing, FederatedJobTrigger.Confirmed) => lastRound ? FederatedJobPhase.Completed : FederatedJobPhase.Dispatching,
            (_, FederatedJobTrigger.Cancel) when IsActive(phase) => FederatedJobPhase.Cancelled,
            (_, FederatedJobTrigger.Fail) when IsActive(phase) => FederatedJobPhase.Failed,
            _ => FederatedJobPhase.None,
        };
        return next != FederatedJobPhase.None
            ? next
            : throw new InvalidJobOperationException($"a job in phase {phase} cannot take '{trigger}'" + (IsActive(phase) ? "." : ": the job has ended."));
    }

    /// <summary>
    /// A round closes as soon as every selected compute vPod sent its update, or at the deadline when at least
    /// <paramref name="minParticipants"/> did; at the deadline with fewer it fails.
    /// </summary>
    public static RoundCloseDecision DecideClose(int expected, int received, int minParticipants, bool deadlinePassed)
    {
        if (received >= expected && received >= minParticipants)
        {
            return new RoundCloseDecision(RoundCloseAction.Close);
        }

        if (!deadlinePassed)
        {
            return new RoundCloseDecision(RoundCloseAction.Wait);
        }

        return received >= minParticipants
            ? new RoundCloseDecision(RoundCloseAction.Close)
            : new RoundCloseDecision(RoundCloseAction.Fail, $"only {received} of the {minParticipants} updates needed arrived by the round's deadline");
    }

    /// <summary>True when the validators that gave no vote could still bring some result to the quorum (so waiting for them is worth it).</summary>
    public static bool QuorumStillPossible(VoteTally tally, int quorum)
    {
        ArgumentNullException.ThrowIfNull(tally);
        return !tally.HasQuorum && tally.Silent.Count > 0 && tally.LargestGroup + tally.Silent.Count >= quorum;
    }

    /// <summary>
    /// Groups the votes by what was signed (result hash, receipts root, model reference, server optimizer state hash); the first group (by size, then
    /// hash) with at least <paramref name="quorum"/> distinct validators wins. The others signed something else; validators
    /// with no vote were silent.
    /// </summary>
    public static VoteTally Tally(IReadOnlyList<ValidatorVote> votes, IReadOnlyList<string> validators, int quorum)
    {
        ArgumentNullException.ThrowIfNull(votes);
        ArgumentNullException.ThrowIfNull(validators);
        ArgumentOutOfRangeException.ThrowIfLessThan(quorum, 1);
        var distinct = votes.DistinctBy(v => v.ValidatorVPodId, StringComparer.Ordinal).ToList();
        var groups = distinct
            .GroupBy(v => (Hash: v.ResultHash.ToLowerInvariant(), Root: v.ReceiptsRoot.ToLowerInvariant(), Ref: v.ModelRef.ToLowerInvariant(), State: v.StateHash?.ToLowerInvariant()))
            .OrderByDescending(g => g.Count())
            .ThenBy(g => g.Key.Hash, StringComparer.Ordinal)
            .ToList();
        var silent = validators.Where(id => distinct.All(v => !string.Equals(v.ValidatorVPodId, id, StringComparison.Ordinal))).Order(StringComparer.Ordinal).ToList();
        var winner = groups.FirstOrDefault(g => g.Count() >= quorum);
        if (winner is null)
        {
            return new VoteTally(null, [], distinct.Select(v => v.ValidatorVPodId).Order(StringComparer.Ordinal).ToList(), silent, groups.Count > 0 ? groups[0].Count() : 0);
        }

        var agreeing = winner.OrderBy(v => v.ValidatorVPodId, StringComparer.Ordinal).ToList();
        var disagreeing = distinct.Except(agreeing).Select(v => v.ValidatorVPodId).Order(StringComparer.Ordinal).ToList();
        return new VoteTally(agreeing[0], agreeing, disagreeing, silent, agreeing.Count);
    }

    /// <summary>
    /// The security threshold a job runs with: its own, else its secure compute clusters', else a majority of its compute vPods. A
    /// job that would aggregate a secure-aggregation cluster's members in the clear, or whose threshold conflicts with its clusters'
    /// or cannot secure the group (<see cref="SecAggParameters.ThresholdProblem"/>), adds its problem to <paramref name="errors"/>.
    /// </summary>
    public static int SecurityThreshold(FederatedJobSpec spec, IReadOnlyList<ClusterSpec> clusters, int computeVPods, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(clusters);
        ArgumentNullException.ThrowIfNull(errors);
        var secure = clusters.Where(c => c.Algorithm == AggregationAlgorithm.SecureAggregation).ToList();
        if (spec.Algorithm != FederatedAlgorithm.SecureAggregation)
        {
            errors.AddRange(secure.Select(c =>
                $"compute cluster '{c.Name}' was deployed for secure-aggregation: its members' updates are only aggregated securely; run the job with --algorithm secure-aggregation."));
            return 0;
        }

        var fromClusters = secure.Where(c => c.SecurityThreshold is not null).GroupBy(c => c.SecurityThreshold!.Value).ToList();
        if (fromClusters.Count > 1)
        {
            errors.Add("the compute clusters disagree on the security threshold (" + string.Join(", ", secure.Where(c => c.SecurityThreshold is not null).Select(c => $"'{c.Name}' t={c.SecurityThreshold}")) + "): give the job --security-threshold.");
        }

        if (spec.SecurityThreshold is { } own && fromClusters.Count == 1 && fromClusters[0].Key != own)
        {
            errors.Add($"security-threshold '{own}' conflicts with compute cluster '{fromClusters[0].First().Name}', deployed with t={fromClusters[0].Key}: use {fromClusters[0].Key} or leave it out.");
        }

        var threshold = spec.SecurityThreshold ?? (fromClusters.Count == 1 ? fromClusters[0].Key : SecAggParameters.DefaultThreshold(computeVPods));
        if (computeVPods > 0 && SecAggParameters.ThresholdProblem(threshold, computeVPods) is { } problem)
        {
            errors.Add(problem);
        }

        return threshold;
    }
}
