using MetaNode.Security;
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
}

/// <summary>The persisted list of clusters that <c>cluster list</c> shows. Key: <see cref="ClusterRegistryKeys.Default"/>.</summary>
[Alias("MetaNode.Clusters.IVPodClusterRegistryGrain")]
public interface IVPodClusterRegistryGrain : IGrainWithStringKey
{
    [Alias("Upsert"), SiloOnly]
    Task UpsertAsync(ClusterSummary summary, CancellationToken cancellationToken = default);

    [Alias("Remove"), SiloOnly]
    Task RemoveAsync(string name, CancellationToken cancellationToken = default);

    [Alias("List"), RequiresRole(AccessRole.Viewer), ReadOnly]
    Task<IReadOnlyList<ClusterSummary>> ListAsync(CancellationToken cancellationToken = default);
}

public static class ClusterRegistryKeys
{
    public const string Default = "default";
}
