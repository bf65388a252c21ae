using MetaNode.Security;
using MetaNode.VPods;
using Orleans.Concurrency;

namespace MetaNode.Clusters;

/// <summary>A vPod cluster: its spec, members, scale and aggregate status. Key: the cluster name.</summary>
[Alias("MetaNode.Clusters.IVPodClusterGrain")]
public interface IVPodClusterGrain : IGrainWithStringKey
{
    /// <summary>Records the spec and creates the members. Deploying the same spec again converges to it without duplicating members.</summary>
    [Alias("Deploy"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task<ClusterStatus> DeployAsync(ClusterSpec spec, CancellationToken cancellationToken = default);

    /// <summary>Sets the desired member count: creates new members or deletes the newest ones.</summary>
    [Alias("Scale"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task<ClusterStatus> ScaleAsync(int count, CancellationToken cancellationToken = default);

    /// <summary>Deletes every member, then the cluster.</summary>
    [Alias("Delete"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task<ClusterStatus> DeleteAsync(CancellationToken cancellationToken = default);

    [Alias("GetStatus"), RequiresRole(AccessRole.Viewer), AlwaysInterleave]
    Task<ClusterStatus> GetStatusAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// A leader's reconciliation pass: desired vs. actual members, restart or replace failed ones, re-activate members whose
    /// silo died. Throws <see cref="StaleLeaderTermException"/> when <paramref name="command"/> carries an older term than one
    /// already accepted.
    /// </summary>
    [Alias("Reconcile"), RequiresRole(AccessRole.Admin, Mutates = true)]
    Task<ClusterStatus> ReconcileAsync(LeaderCommand command, CancellationToken cancellationToken = default);

    /// <summary>The same fenced pass as <see cref="ReconcileAsync"/>, without building the cluster's status: what a leader runs on every tick.</summary>
    [Alias("ReconcileAsLeader"), SiloOnly]
    Task ReconcileAsLeaderAsync(LeaderCommand command, CancellationToken cancellationToken = default);

    /// <summary>
    /// The cluster's row of <c>cluster list</c> as its members are now: what the cluster reports to its registry whenever
    /// it changes. The registry asks for it once when it has no report (after a silo restart).
    /// </summary>
    [Alias("GetSummary"), SiloOnly, AlwaysInterleave]
    Task<ClusterSummary> GetSummaryAsync(CancellationToken cancellationToken = default);

    /// <summary>Told by the vPod registry when member <paramref name="vpodId"/> entered <paramref name="phase"/> (at <paramref name="at"/>).</summary>
    [Alias("MemberChanged"), SiloOnly, OneWay]
    Task MemberChangedAsync(string vpodId, VPodPhase phase, DateTimeOffset at);
}

/// <summary>
/// The persisted list of clusters that <c>cluster list</c> shows, each as its cluster last reported it. Key:
/// <see cref="ClusterRegistryKeys.Default"/>.
/// </summary>
[Alias("MetaNode.Clusters.IVPodClusterRegistryGrain")]
public interface IVPodClusterRegistryGrain : IGrainWithStringKey
{
    [Alias("Upsert"), SiloOnly]
    Task UpsertAsync(ClusterSummary summary, CancellationToken cancellationToken = default);

    [Alias("Remove"), SiloOnly]
    Task RemoveAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Every cluster with its phase and desired count as the cluster last reported them: one call, no cluster is asked again.</summary>
    [Alias("List"), RequiresRole(AccessRole.Viewer), ReadOnly]
    Task<IReadOnlyList<ClusterSummary>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>A cluster's current row (phase, desired count ...), sent by the cluster whenever it changes; kept in memory.</summary>
    [Alias("Report"), SiloOnly, AlwaysInterleave]
    Task ReportAsync(ClusterSummary summary, CancellationToken cancellationToken = default);
}

public static class ClusterRegistryKeys
{
    public const string Default = "default";
}
