using MetaNode.VPods;

namespace MetaNode.Grains.Runtime;

/// <summary>What a runtime saw when it looked for a vPod's workload.</summary>
public enum WorkloadState
{
    Unknown = 0,
    /// <summary>Provisioned but not started (e.g. a created container).</summary>
    Created = 1,
    Running = 2,
    Exited = 3,
    /// <summary>The runtime has no trace of it.</summary>
    NotFound = 4,
    /// <summary>Alive, but started by another runtime instance (a silo that has since died or moved on); it cannot be supervised from here.</summary>
    Orphaned = 5,
}

/// <summary>The result of <see cref="IVPodRuntime.InspectAsync"/>.</summary>
public sealed record WorkloadObservation(WorkloadState State, int? ExitCode = null, bool OomKilled = false, string? Detail = null)
{
    public static WorkloadObservation NotFound(string detail) => new(WorkloadState.NotFound, Detail: detail);
}

/// <summary>Resource use sampled by a runtime.</summary>
public sealed record WorkloadUsage(double CpuPercent, long MemoryBytes, long MemoryLimitBytes, long NetworkRxBytes, long NetworkTxBytes);

/// <summary>
/// A driver that runs vPod workloads: local processes, Docker containers, Kubernetes workloads.
/// Services, not grains: the vPod grain decides, the runtime does the I/O. Every method is idempotent
/// on the vPod id so a grain can retry after a crash without duplicating the workload.
/// </summary>
public interface IVPodRuntime
{
    DeploymentMethod Method { get; }

    /// <summary>Whether workloads keep running when the silo stops (containers, Kubernetes objects), so the grain leaves them for the next silo to adopt.</summary>
    bool WorkloadsOutliveSilo => false;

    /// <summary>
    /// Throws <see cref="InvalidVPodSpecException"/> for a spec this runtime cannot honour, before the vPod is recorded (the
    /// vPod grain calls it at create). Only checks: nothing is created. The default accepts every spec.
    /// </summary>
    void ValidateSpec(string vpodId, VPodSpec spec)
    {
    }

    /// <summary>Prepares what the workload needs (data directory, image, container object). Returns a handle that may not be running yet.</summary>
    Task<RuntimeHandle> ProvisionAsync(string vpodId, VPodSpec spec, CancellationToken cancellationToken = default);

    /// <summary>Starts the workload; returns the handle of the running workload (pid, container id, ...). Starting a running workload returns its handle.</summary>
    Task<RuntimeHandle> StartAsync(string vpodId, VPodSpec spec, RuntimeHandle? handle, CancellationToken cancellationToken = default);

    /// <summary>Finds the workload behind a recorded handle.</summary>
    Task<WorkloadObservation> InspectAsync(string vpodId, RuntimeHandle handle, CancellationToken cancellationToken = default);

    /// <summary>Stops the workload: a graceful signal, then a kill after <paramref name="timeout"/>; <paramref name="force"/> kills at once. Returns the exit code when known. Stopping a stopped workload succeeds.</summary>
    Task<int?> StopAsync(string vpodId, RuntimeHandle handle, TimeSpan timeout, bool force, CancellationToken cancellationToken = default);

    /// <summary>Removes everything the runtime made for the vPod (its workload, data and logs). Removing twice succeeds.</summary>
    Task RemoveAsync(string vpodId, RuntimeHandle? handle, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes <paramref name="files"/> (already validated by <see cref="VPodDataValidation"/>) into the vPod's data directory in
    /// order; the workload need not be running, but what the runtime provisioned for it must exist. A runtime that cannot place
    /// data throws <see cref="InvalidVPodOperationException"/> naming itself.
    /// </summary>
    Task WriteDataFilesAsync(string vpodId, VPodSpec spec, RuntimeHandle? handle, VPodDataFiles files, CancellationToken cancellationToken = default);

    /// <summary>Samples resource use; null when the workload is not running.</summary>
    Task<WorkloadUsage?> GetUsageAsync(string vpodId, RuntimeHandle handle, VPodSpec spec, CancellationToken cancellationToken = default);

    /// <summary>The captured output matching <paramref name="query"/>, oldest first.</summary>
    Task<IReadOnlyList<LogLine>> ReadLogsAsync(string vpodId, RuntimeHandle? handle, LogQuery query, CancellationToken cancellationToken = default);

    /// <summary>The lines matching <paramref name="query"/>, then each new line as it is written, until cancelled.</summary>
    IAsyncEnumerable<LogLine> FollowLogsAsync(string vpodId, RuntimeHandle? handle, LogQuery query, CancellationToken cancellationToken = default);
}

/// <summary>Finds the runtime for a deployment method.</summary>
public interface IVPodRuntimeResolver
{
    /// <summary>Throws <see cref="InvalidVPodSpecException"/> naming the method when no runtime for it is configured on this silo.</summary>
    IVPodRuntime Resolve(DeploymentMethod method);
}
