using MetaNode.Chain;
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

    /// <summary>The chain connection, the registry and its validator set (<c>chain status</c>).</summary>
    Task<ChainStatus> GetChainStatusAsync(CancellationToken cancellationToken = default);

    /// <summary>Deploys a new ResultRegistry (validators: the given addresses, or every validator vPod) and makes it current.</summary>
    Task<ChainStatus> DeployRegistryAsync(DeployRegistryCommand command, CancellationToken cancellationToken = default);

    Task<ValidatorSet> GetValidatorsAsync(CancellationToken cancellationToken = default);

    /// <summary>A round as recorded on chain, checked against the registry's commitment.</summary>
    Task<RoundRecord> GetRoundAsync(string jobId, long round, CancellationToken cancellationToken = default);

    /// <summary>Has validator vPods sign the round and the operator account submit it once; a round already on chain is reported.</summary>
    Task<FinalizationResult> FinalizeRoundAsync(FinalizeRoundCommand command, CancellationToken cancellationToken = default);

    /// <summary>Rotates the validator set (the given addresses, or every validator vPod), signed by k validators of the current set.</summary>
    Task<ValidatorSet> RotateValidatorsAsync(IReadOnlyList<string> validators, int threshold, CancellationToken cancellationToken = default);
}
