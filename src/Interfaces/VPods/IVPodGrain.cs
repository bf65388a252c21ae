using MetaNode.Chain;
using Orleans.Concurrency;

namespace MetaNode.VPods;

/// <summary>One vPod: its spec, phase, runtime handle, health, metrics and logs. Key: the vPod id (<c>vpod-</c> + short id).</summary>
[Alias("MetaNode.VPods.IVPodGrain")]
public interface IVPodGrain : IGrainWithStringKey
{
    /// <summary>Records the spec and provisions and starts the workload. Creating the same id twice with the same spec returns the existing status.</summary>
    [Alias("Create")]
    Task<VPodStatus> CreateAsync(VPodSpec spec, CancellationToken cancellationToken = default);

    [Alias("Start")]
    Task<VPodStatus> StartAsync(CancellationToken cancellationToken = default);

    [Alias("Stop")]
    Task<VPodStatus> StopAsync(StopOptions options, CancellationToken cancellationToken = default);

    [Alias("Restart")]
    Task<VPodStatus> RestartAsync(CancellationToken cancellationToken = default);

    [Alias("Delete")]
    Task<VPodStatus> DeleteAsync(StopOptions options, CancellationToken cancellationToken = default);

    [Alias("GetStatus"), AlwaysInterleave]
    Task<VPodStatus> GetStatusAsync(CancellationToken cancellationToken = default);

    [Alias("GetMetrics"), AlwaysInterleave]
    Task<VPodMetrics> GetMetricsAsync(CancellationToken cancellationToken = default);

    [Alias("GetLogs"), AlwaysInterleave]
    Task<IReadOnlyList<LogLine>> GetLogsAsync(LogQuery query, CancellationToken cancellationToken = default);

    /// <summary>The lines matching <paramref name="query"/>, then every new line until cancelled or the vPod is deleted.</summary>
    [Alias("FollowLogs"), AlwaysInterleave]
    IAsyncEnumerable<LogLine> FollowLogsAsync(LogQuery query, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes <paramref name="files"/> into the vPod's data directory (where its workload reads <c>METANODE_DATA_DIR</c>), in
    /// order, through the vPod's runtime on the silo that hosts it: a process vPod's directory on that machine, a docker vPod's
    /// container (running or stopped). Refused with <see cref="InvalidVPodDataException"/> for bad names or too many bytes, and
    /// with <see cref="InvalidVPodOperationException"/> while the vPod has no workload (e.g. deleted) or on a runtime that cannot
    /// place data; nothing is written then.
    /// </summary>
    [Alias("WriteData")]
    Task WriteDataAsync(VPodDataFiles files, CancellationToken cancellationToken = default);

    /// <summary>
    /// Signs the silo's registry's EIP-712 digest for <paramref name="round"/> with this vPod's own key (validator vPods).
    /// The domain (chain id, registry address) is the silo's, never the caller's: a vPod signs only for its registry.
    /// </summary>
    [Alias("SignRoundResult"), AlwaysInterleave]
    Task<ValidatorSignature> SignRoundResultAsync(RoundResult round, CancellationToken cancellationToken = default);

    /// <summary>Signs a rotation of the registry's validator set (validator vPods); <paramref name="nonce"/> is the registry's current set id.</summary>
    [Alias("SignValidatorRotation"), AlwaysInterleave]
    Task<ValidatorSignature> SignValidatorRotationAsync(IReadOnlyList<string> validators, int threshold, long nonce, CancellationToken cancellationToken = default);

    /// <summary>Signs a message with the EIP-191 personal-message prefix (e.g. execution receipts of compute vPods).</summary>
    [Alias("SignMessage"), AlwaysInterleave]
    Task<ValidatorSignature> SignMessageAsync(byte[] message, CancellationToken cancellationToken = default);

    /// <summary>Compares the recorded runtime handle with the runtime and acts on the difference (restart policy).</summary>
    [Alias("Reconcile")]
    Task<VPodStatus> ReconcileAsync(CancellationToken cancellationToken = default);
}

/// <summary>The persisted list of every vPod; <c>vpod list</c> reads it and silos reconcile from it on start. Key: <see cref="VPodRegistryKeys.Default"/>.</summary>
[Alias("MetaNode.VPods.IVPodRegistryGrain")]
public interface IVPodRegistryGrain : IGrainWithStringKey
{
    [Alias("Upsert")]
    Task UpsertAsync(VPodSummary summary, CancellationToken cancellationToken = default);

    [Alias("Remove")]
    Task RemoveAsync(string vpodId, CancellationToken cancellationToken = default);

    [Alias("List"), ReadOnly]
    Task<IReadOnlyList<VPodSummary>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>Reserves a unique name; returns the id already holding it, or null when reserved for <paramref name="vpodId"/>.</summary>
    [Alias("ReserveName")]
    Task<string?> ReserveNameAsync(string name, string vpodId, CancellationToken cancellationToken = default);
}

public static class VPodRegistryKeys
{
    public const string Default = "default";
}
