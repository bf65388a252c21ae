using MetaNode.Security;
using Orleans.Concurrency;

namespace MetaNode.VPods;

/// <summary>One vPod: its spec, phase, runtime handle, health, metrics and logs. Key: the vPod id (<c>vpod-</c> + short id).</summary>
[Alias("MetaNode.VPods.IVPodGrain")]
public interface IVPodGrain : IGrainWithStringKey
{
    /// <summary>Records the spec and provisions and starts the workload. Creating the same id twice with the same spec returns the existing status.</summary>
    [Alias("Create"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task<VPodStatus> CreateAsync(VPodSpec spec, CancellationToken cancellationToken = default);

    [Alias("Start"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task<VPodStatus> StartAsync(CancellationToken cancellationToken = default);

    [Alias("Stop"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task<VPodStatus> StopAsync(StopOptions options, CancellationToken cancellationToken = default);

    [Alias("Restart"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task<VPodStatus> RestartAsync(StopOptions? options = null, CancellationToken cancellationToken = default);

    [Alias("Delete"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task<VPodStatus> DeleteAsync(StopOptions options, CancellationToken cancellationToken = default);

    [Alias("GetStatus"), RequiresRole(AccessRole.Viewer), AlwaysInterleave]
    Task<VPodStatus> GetStatusAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The status with its tag, or null when it is still the status tagged <paramref name="knownTag"/> (then nothing but the
    /// null crosses the wire). <see cref="Guid.Empty"/> is never a tag: passing it always returns the status. The answer is the
    /// vPod's status at the time of the call, exactly as <see cref="GetStatusAsync"/> gives it.
    /// </summary>
    [Alias("GetStatusIfChanged"), RequiresRole(AccessRole.Viewer), AlwaysInterleave]
    Task<TaggedVPodStatus?> GetStatusIfChangedAsync(Guid knownTag, CancellationToken cancellationToken = default);

    [Alias("GetMetrics"), RequiresRole(AccessRole.Viewer), AlwaysInterleave]
    Task<VPodMetrics> GetMetricsAsync(CancellationToken cancellationToken = default);

    [Alias("GetLogs"), RequiresRole(AccessRole.Viewer), AlwaysInterleave]
    Task<IReadOnlyList<LogLine>> GetLogsAsync(LogQuery query, CancellationToken cancellationToken = default);

    /// <summary>The lines matching <paramref name="query"/>, then every new line until cancelled or the vPod is deleted.</summary>
    [Alias("FollowLogs"), RequiresRole(AccessRole.Viewer), AlwaysInterleave]
    IAsyncEnumerable<LogLine> FollowLogsAsync(LogQuery query, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes <paramref name="files"/> into the vPod's data directory (where its workload reads <c>METANODE_DATA_DIR</c>), in
    /// order, through the vPod's runtime on the silo that hosts it: a process vPod's directory on that machine, a docker vPod's
    /// container (running or stopped). Refused with <see cref="InvalidVPodDataException"/> for bad names or too many bytes, and
    /// with <see cref="InvalidVPodOperationException"/> while the vPod has no workload (e.g. deleted) or on a runtime that cannot
    /// place data; nothing is written then.
    /// </summary>
    [Alias("WriteData"), SiloOnly]
    Task WriteDataAsync(VPodDataFiles files, CancellationToken cancellationToken = default);

    /// <summary>
    /// Challenges the workload (compute and validator vPods) to prove its key: a fresh random nonce, the chain's id, and the workload's
    /// EIP-712 <c>Identity</c> signature, recovered here. The first proven address is admitted; a later proof of another address is
    /// recorded but not admitted (<see cref="VPodIdentityState.Changed"/>) until an operator calls <see cref="AdmitAddressAsync"/>.
    /// Throws <see cref="VPodIdentityException"/> when the workload gives no valid proof (e.g. it speaks no workload protocol).
    /// No caller chooses what is signed.
    /// </summary>
    [Alias("VerifyIdentity"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task<VPodStatus> VerifyIdentityAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Admits the address the workload last proved (it must equal <paramref name="address"/>) after it changed, so the vPod may join
    /// jobs and validator sets again. Refused with <see cref="VPodIdentityException"/> when the vPod has not proved that address.
    /// </summary>
    [Alias("AdmitAddress"), RequiresRole(AccessRole.Admin, Mutates = true)]
    Task<VPodStatus> AdmitAddressAsync(string address, CancellationToken cancellationToken = default);

    /// <summary>Compares the recorded runtime handle with the runtime and acts on the difference (restart policy).</summary>
    [Alias("Reconcile"), SiloOnly]
    Task<VPodStatus> ReconcileAsync(CancellationToken cancellationToken = default);
}

/// <summary>The persisted list of every vPod; <c>vpod list</c> reads it and silos reconcile from it on start. Key: <see cref="VPodRegistryKeys.Default"/>.</summary>
[Alias("MetaNode.VPods.IVPodRegistryGrain")]
public interface IVPodRegistryGrain : IGrainWithStringKey
{
    [Alias("Upsert"), SiloOnly]
    Task UpsertAsync(VPodSummary summary, CancellationToken cancellationToken = default);

    [Alias("Remove"), SiloOnly]
    Task RemoveAsync(string vpodId, CancellationToken cancellationToken = default);

    [Alias("List"), RequiresRole(AccessRole.Viewer), ReadOnly]
    Task<IReadOnlyList<VPodSummary>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>Reserves a unique name; returns the id already holding it, or null when reserved for <paramref name="vpodId"/>.</summary>
    [Alias("ReserveName"), SiloOnly]
    Task<string?> ReserveNameAsync(string name, string vpodId, CancellationToken cancellationToken = default);
}

public static class VPodRegistryKeys
{
    public const string Default = "default";
}
