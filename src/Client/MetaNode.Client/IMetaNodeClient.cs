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
}
