using MetaNode.Clusters;
using MetaNode.VPods;

namespace MetaNode.Grains.Clusters;

/// <summary>
/// The cluster's row of <c>cluster list</c>: kept from the member phases the cluster last saw (its own calls, and the vPod
/// registry telling it of each member's change), and reported to the cluster registry whenever it changes.
/// </summary>
public sealed partial class VPodClusterGrain
{
    /// <summary>Ordinal → the member's phase last seen, and when its vPod entered it.</summary>
    private readonly Dictionary<int, (VPodPhase Phase, DateTimeOffset At)> _observed = [];

    /// <summary>The summary the registry holds from this activation, if any.</summary>
    private ClusterSummary? _reported;

    public async Task<ClusterSummary> GetSummaryAsync(CancellationToken cancellationToken = default)
    {
        EnsureExists();
        await ObserveUnseenMembersAsync(cancellationToken);
        return CurrentSummary();
    }

    public async Task MemberChangedAsync(string vpodId, VPodPhase phase, DateTimeOffset at)
    {
        if (!Exists || State.Phase == ClusterPhase.Deleting)
        {
            return;
        }

        var member = State.Members.FirstOrDefault(m => m.Created && ClusterSpecValidation.MemberId(Name, m.Ordinal) == vpodId);
        if (member is null || (_observed.TryGetValue(member.Ordinal, out var seen) && seen.At > at))
        {
            // Not (or no longer) a member, or news older than what the cluster saw itself.
            return;
        }

        _observed[member.Ordinal] = (phase, at);
        await ReportCurrentAsync(CancellationToken.None);
    }

    /// <summary>Records what a call to member <paramref name="ordinal"/> answered (null: its vPod does not exist).</summary>
    private void Observed(int ordinal, VPodStatus? status) =>
        _observed[ordinal] = status is null ? (VPodPhase.None, time.GetUtcNow()) : (status.Phase, status.UpdatedAt);

    private void ForgetObservations()
    {
        _observed.Clear();
        _reported = null;
    }

    /// <summary>Asks the members the cluster has not seen in this activation (after a restart: every member, once).</summary>
    private Task ObserveUnseenMembersAsync(CancellationToken cancellationToken)
    {
        var unseen = State.Members.Where(m => m.Created && !_observed.ContainsKey(m.Ordinal)).Select(m => m.Ordinal).ToList();
        return ForEachAsync(unseen, ObserveMemberAsync, cancellationToken);
    }

    private ClusterSummary CurrentSummary()
    {
        var phases = State.Members.Select(m => m.Created && _observed.TryGetValue(m.Ordinal, out var seen) ? seen.Phase : VPodPhase.Pending).ToList();
        var phase = ClusterSummaries.PhaseOf(State.Phase, State.Desired, phases, State.Members.Count(m => !m.Created));
        return ClusterSummaries.Summary(Name, Spec, State, phase);
    }

    private async Task ReportCurrentAsync(CancellationToken cancellationToken)
    {
        await ObserveUnseenMembersAsync(cancellationToken);
        await ReportAsync(CurrentSummary(), cancellationToken);
    }

    /// <summary>Sends <paramref name="summary"/> to the cluster registry unless it holds it already.</summary>
    private async Task ReportAsync(ClusterSummary summary, CancellationToken cancellationToken)
    {
        if (summary == _reported)
        {
            return;
        }

        try
        {
            await GrainFactory.GetGrain<IVPodClusterRegistryGrain>(ClusterRegistryKeys.Default).ReportAsync(summary, cancellationToken);
            _reported = summary;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            _reported = null;
            LogReportFailed(logger, exception, Name);
        }
    }
}
