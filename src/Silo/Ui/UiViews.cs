using MetaNode.Chain;
using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.VPods;

namespace MetaNode.Silo.Ui;

/// <summary>A row of the vPods view. Only these fields leave the silo: never the spec (its environment may hold secrets).</summary>
public sealed record VPodView(
    string Id,
    string Name,
    string Type,
    string Runtime,
    string Phase,
    string Health,
    int Restarts,
    string? Silo,
    string? Endpoint,
    string? Address,
    string? Cluster,
    string? Reason,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

public sealed record ClusterMemberView(string Id, string Name, int Ordinal, string Phase, string Health, int Restarts, string? Silo, bool IsLeader, string? Reason);

public sealed record LeaderChangeView(long Term, string? Leader, string? PreviousLeader, DateTimeOffset At, string? Reason);

/// <summary>A cluster: counts, members, and (for orchestrator clusters) the leader, its term and the history of leaders, newest first.</summary>
public sealed record ClusterView(
    string Name,
    string MemberType,
    string Runtime,
    string Phase,
    int Desired,
    int Running,
    int Failed,
    int Pending,
    IReadOnlyList<ClusterMemberView> Members,
    string? Leader,
    string? LeaderSilo,
    long Term,
    long FencingTerm,
    DateTimeOffset? LeaseExpiresAt,
    IReadOnlyList<LeaderChangeView> LeaderChanges);

/// <summary>A row of the jobs view.</summary>
public sealed record JobRowView(string JobId, string Phase, int Round, int TotalRounds, string? Dataset, double? Accuracy, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>How long a round's stages took, in milliseconds.</summary>
public sealed record RoundTimingsView(
    double DispatchMs,
    double SlowestTrainingMs,
    double CollectionMs,
    double StreamDeliveryMs,
    double AggregationMs,
    double FinalizationMs,
    double TotalMs,
    long GasUsed);

public sealed record RoundView(
    int Round,
    double? Accuracy,
    double? Loss,
    IReadOnlyList<string> Participants,
    long TotalSamples,
    IReadOnlyList<string> Validators,
    string ResultHash,
    string? ModelCid,
    string? TxHash,
    RoundTimingsView? Timings);

/// <summary>One job: its phase and progress, and every finished round.</summary>
public sealed record JobView(
    string JobId,
    string Phase,
    int Round,
    int TotalRounds,
    int UpdatesIn,
    int ComputeVPods,
    string? Algorithm,
    string? Dataset,
    string? ComputeCluster,
    string? ValidatorCluster,
    IReadOnlyList<string> Validators,
    string? Reason,
    double? FinalAccuracy,
    string? FinalModelHash,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? RoundDeadline,
    IReadOnlyList<RoundView> Rounds);

/// <summary>A round as the registry on chain records it, and whether it is the result the job recorded (null when the job has no such round).</summary>
public sealed record RoundRecordView(
    string JobId,
    long Round,
    bool Finalized,
    bool Verified,
    long? BlockNumber,
    string? BlockHash,
    string? TransactionHash,
    string? ResultHash,
    string? ReceiptsRoot,
    string? ModelRef,
    string? ModelCid,
    string? Commitment,
    string? Registry,
    bool? MatchesJob);

/// <summary>Pure mappings from the grains' status records to what the MetaNode view shows.</summary>
public static class UiViews
{
    /// <summary>A vPod row: the live status where there is one (the registry's summary may lag it), and the silo its grain was placed on.</summary>
    public static VPodView VPod(VPodSummary summary, VPodStatus? status, string? silo)
    {
        ArgumentNullException.ThrowIfNull(summary);
        return status is null
            ? new VPodView(summary.Id, summary.Name, Name(summary.Type), Name(summary.DeploymentMethod), summary.Phase.ToString(), summary.Health.ToString(),
                summary.RestartCount, silo, null, null, null, null, summary.CreatedAt, summary.UpdatedAt)
            : new VPodView(status.Id, status.Name, Name(status.Type), Name(status.DeploymentMethod), status.Phase.ToString(), status.Health.ToString(),
                status.RestartCount, silo, status.Endpoint ?? status.Handle?.Endpoint, status.Address, status.Spec?.Cluster, status.Reason, status.CreatedAt, status.UpdatedAt);
    }

    /// <summary>Every vPod, oldest first (as <c>vpod list</c> orders them).</summary>
    public static IReadOnlyList<VPodView> VPods(IEnumerable<VPodView> rows) =>
        [.. rows.OrderBy(v => v.CreatedAt).ThenBy(v => v.Id, StringComparer.Ordinal)];

    public static ClusterView Cluster(ClusterStatus status, ClusterSummary? summary = null)
    {
        ArgumentNullException.ThrowIfNull(status);
        var memberType = status.Spec?.MemberType ?? summary?.MemberType ?? VPodType.Compute;
        var runtime = status.Spec?.DeploymentMethod ?? summary?.DeploymentMethod ?? DeploymentMethod.Process;
        return new ClusterView(
            status.Name,
            Name(memberType),
            Name(runtime),
            status.Phase.ToString(),
            status.Desired,
            status.Running,
            status.Failed,
            status.Pending,
            [.. status.Members.OrderBy(m => m.Ordinal).Select(m => new ClusterMemberView(m.Id, m.Name, m.Ordinal, m.Phase.ToString(), m.Health.ToString(), m.RestartCount, m.Silo, m.IsLeader, m.Reason))],
            status.Leader,
            status.LeaderSilo,
            status.Term,
            status.FencingTerm,
            status.LeaseExpiresAt,
            [.. status.LeaderChanges.OrderByDescending(c => c.Term).ThenByDescending(c => c.At).Select(c => new LeaderChangeView(c.Term, c.Leader, c.PreviousLeader, c.At, c.Reason))]);
    }

    public static IReadOnlyList<ClusterView> Clusters(IEnumerable<ClusterView> clusters) =>
        [.. clusters.OrderBy(c => c.Name, StringComparer.Ordinal)];

    /// <summary>Every job, newest first.</summary>
    public static IReadOnlyList<JobRowView> Jobs(IEnumerable<FederatedJobSummary> jobs) =>
        [.. jobs.OrderByDescending(j => j.CreatedAt).ThenBy(j => j.JobId, StringComparer.Ordinal)
            .Select(j => new JobRowView(j.JobId, j.Phase.ToString(), j.Round, j.Rounds, j.Dataset, j.Accuracy, j.CreatedAt, j.UpdatedAt))];

    public static JobView Job(FederatedJobStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        var timings = status.Timings.GroupBy(t => t.Round).ToDictionary(g => g.Key, g => g.Last());
        return new JobView(
            status.JobId,
            status.Phase.ToString(),
            status.Round,
            status.Rounds,
            status.UpdatesIn,
            status.ComputeVPods,
            status.Spec is { } spec ? Name(spec.Algorithm) : null,
            status.Spec?.Dataset,
            status.Spec?.ComputeCluster,
            status.Spec?.ValidatorCluster,
            status.Validators,
            status.Reason,
            status.FinalAccuracy,
            status.FinalModelHash,
            status.CreatedAt,
            status.UpdatedAt,
            status.RoundDeadline,
            [.. status.Results.OrderBy(r => r.Round).Select(r => new RoundView(
                r.Round,
                r.Accuracy,
                r.Loss,
                r.Participants,
                r.TotalSamples,
                r.Validators,
                r.ResultHash,
                r.ModelCid,
                r.TxHash,
                timings.TryGetValue(r.Round, out var t) ? Timings(t) : null))]);
    }

    public static RoundTimingsView Timings(RoundTimings timings)
    {
        ArgumentNullException.ThrowIfNull(timings);
        return new RoundTimingsView(timings.DispatchMs, timings.SlowestTrainingMs, timings.CollectionMs, timings.StreamDeliveryMs, timings.AggregationMs, timings.FinalizationMs, timings.TotalMs, timings.GasUsed);
    }

    /// <summary>The on-chain record of a round; <paramref name="jobRound"/> is the job's own result for it, compared by result hash.</summary>
    public static RoundRecordView Record(RoundRecord record, MetaNode.Federation.RoundResult? jobRound)
    {
        ArgumentNullException.ThrowIfNull(record);
        bool? matches = jobRound is null || !record.Finalized
            ? null
            : string.Equals(jobRound.ResultHash, record.ResultHash, StringComparison.OrdinalIgnoreCase)
                && (jobRound.TxHash is null || string.Equals(jobRound.TxHash, record.TransactionHash, StringComparison.OrdinalIgnoreCase));
        return new RoundRecordView(record.JobId, record.Round, record.Finalized, record.Verified, record.BlockNumber, record.BlockHash, record.TransactionHash,
            record.ResultHash, record.ReceiptsRoot, record.ModelRef, record.ModelCid, record.Commitment, record.Registry, matches);
    }

    /// <summary>An enum value as the CLI's flags spell it: <c>FederatedAverage</c> → <c>federated-average</c>.</summary>
    public static string Name<TEnum>(TEnum value)
        where TEnum : struct, Enum
    {
        var text = value.ToString();
        var builder = new System.Text.StringBuilder(text.Length + 4);
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsUpper(text[i]) && i > 0)
            {
                builder.Append('-');
            }

            builder.Append(char.ToLowerInvariant(text[i]));
        }

        return builder.ToString();
    }
}
