using MetaNode.Clusters;
using MetaNode.VPods;

namespace MetaNode.Client;

/// <summary>The typed MetaNode API: deploy, manage and observe vPods.</summary>
public interface IMetaNodeClient : IAsyncDisposable
{
    /// <summary>Creates a vPod under a new id and returns its status.</summary>
    Task<VPodStatus> DeployVPodAsync(VPodSpec spec, CancellationToken cancellationToken = default);

    /// <summary>Starts, stops, restarts or deletes a vPod; <paramref name="options"/> apply to stop and delete.</summary>
    Task<VPodStatus> ManageVPodAsync(string id, VPodAction action, StopOptions? options = null, CancellationToken cancellationToken = default);

    Task<VPodStatus> CheckVPodStatusAsync(string id, CancellationToken cancellationToken = default);

    Task<VPodMetrics> GetVPodMetricsAsync(string id, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<LogLine>> GetVPodLogsAsync(string id, LogQuery query, CancellationToken cancellationToken = default);

    /// <summary>The lines matching <paramref name="query"/>, then every new line until cancelled or the vPod is deleted.</summary>
    IAsyncEnumerable<LogLine> FollowVPodLogsAsync(string id, LogQuery query, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<VPodSummary>> ListVPodsAsync(CancellationToken cancellationToken = default);

    /// <summary><c>deploy_vpod_cluster</c>: records the cluster and creates its members; deploying the same spec again changes nothing.</summary>
    Task<ClusterStatus> DeployClusterAsync(ClusterSpec spec, CancellationToken cancellationToken = default);

    Task<ClusterStatus> ScaleClusterAsync(string name, int count, CancellationToken cancellationToken = default);

    /// <summary>Aggregate status: desired, running and failed counts, each member, the leader and its term.</summary>
    Task<ClusterStatus> GetClusterStatusAsync(string name, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<ClusterSummary>> ListClustersAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes the cluster's members, then the cluster.</summary>
    Task<ClusterStatus> DeleteClusterAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Sends a reconciliation command carrying a leader term; a term older than the cluster's current one is rejected with <see cref="StaleLeaderTermException"/>.</summary>
    Task<ClusterStatus> ReconcileClusterAsync(string name, LeaderCommand command, CancellationToken cancellationToken = default);
}
