using Orleans.Concurrency;

namespace MetaNode.Clusters;

/// <summary>A vPod cluster: its spec, members, scale and aggregate status. Key: the cluster name.</summary>
[Alias("MetaNode.Clusters.IVPodClusterGrain")]
public interface IVPodClusterGrain : IGrainWithStringKey
{
    /// <summary>Records the spec and creates the members. Deploying the same spec again converges to it without duplicating members.</summary>
    [Alias("Deploy")]
    Task<ClusterStatus> DeployAsync(ClusterSpec spec, CancellationToken cancellationToken = default);

    /// <summary>Sets the desired member count: creates new members or deletes the newest ones.</summary>
    [Alias("Scale")]
    Task<ClusterStatus> ScaleAsync(int count, CancellationToken cancellationToken = default);

    /// <summary>Deletes every member, then the cluster.</summary>
    [Alias("Delete")]
    Task<ClusterStatus> DeleteAsync(CancellationToken cancellationToken = default);

    [Alias("GetStatus"), AlwaysInterleave]
    Task<ClusterStatus> GetStatusAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// A leader's reconciliation pass: desired vs. actual members, restart or replace failed ones, re-activate members whose
    /// silo died. Throws <see cref="StaleLeaderTermException"/> when <paramref name="command"/> carries an older term than one
    /// already accepted.
    /// </summary>
    [Alias("Reconcile")]
    Task<ClusterStatus> ReconcileAsync(LeaderCommand command, CancellationToken cancellationToken = default);

    /// <summary>The same fenced pass as <see cref="ReconcileAsync"/>, without building the cluster's status: what a leader runs on every tick.</summary>
    [Alias("ReconcileAsLeader")]
    Task ReconcileAsLeaderAsync(LeaderCommand command, CancellationToken cancellationToken = default);
}

/// <summary>The persisted list of clusters that <c>cluster list</c> shows. Key: <see cref="ClusterRegistryKeys.Default"/>.</summary>
[Alias("MetaNode.Clusters.IVPodClusterRegistryGrain")]
public interface IVPodClusterRegistryGrain : IGrainWithStringKey
{
    [Alias("Upsert")]
    Task UpsertAsync(ClusterSummary summary, CancellationToken cancellationToken = default);

    [Alias("Remove")]
    Task RemoveAsync(string name, CancellationToken cancellationToken = default);

    [Alias("List"), ReadOnly]
    Task<IReadOnlyList<ClusterSummary>> ListAsync(CancellationToken cancellationToken = default);
}

public static class ClusterRegistryKeys
{
    public const string Default = "default";
}
