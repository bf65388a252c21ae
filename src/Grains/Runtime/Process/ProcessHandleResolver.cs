using System.Globalization;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// Tells what a <see cref="RuntimeHandle"/> names on this node: the vPod's supervised process, an exit recorded here, a live
/// process another runtime instance started (its start time still matching, so the pid was not reused), or nothing.
/// </summary>
internal sealed class ProcessHandleResolver
{
    private readonly string _nodeId;
    private readonly string _instanceId;
    private readonly ProcessVPodDirectories _directories;
    private readonly ProcessExitHistory _exits;

    public ProcessHandleResolver(string nodeId, string instanceId, ProcessVPodDirectories directories, ProcessExitHistory exits)
    {
        _nodeId = nodeId;
        _instanceId = instanceId;
        _directories = directories;
        _exits = exits;
    }

    /// <summary>Whether the handle names <paramref name="managed"/>, the process this instance supervises.</summary>
    public bool IsTracked(ManagedProcess? managed, RuntimeHandle handle) =>
        managed is not null
        && string.Equals(handle.Id, managed.Handle.Id, StringComparison.Ordinal)
        && handle.StartMarker == managed.StartMarker
        && IsThisNode(handle);

    public bool IsThisNode(RuntimeHandle handle) => string.Equals(handle.Node, _nodeId, StringComparison.Ordinal);

    /// <summary>The live process a handle names on this node, when its start time still matches (so the pid was not reused).</summary>
    public ProcStat? FindLive(RuntimeHandle handle)
    {
        if (handle.StartMarker == 0
            || !IsThisNode(handle)
            || !TryParsePid(handle, out var pid))
        {
            return null;
        }

        return ProcFs.ReadStat(pid) is { IsAlive: true } stat && stat.StartTicks == handle.StartMarker ? stat : null;
    }

    /// <summary>How the process a handle names ended, when its exit was recorded here.</summary>
    public ExitRecord? FindExit(string vpodId, RuntimeHandle handle) =>
        IsThisNode(handle) && TryParsePid(handle, out var pid) ? _exits.Find(vpodId, pid, handle.StartMarker) : null;

    /// <summary>What the handle names now; <paramref name="current"/> is the vPod's supervised process, if any.</summary>
    public WorkloadObservation Observe(string vpodId, RuntimeHandle handle, ManagedProcess? current)
    {
        if (handle.Id.Length == 0)
        {
            return Directory.Exists(_directories.VPodOf(vpodId))
                ? new WorkloadObservation(WorkloadState.Created, Detail: "provisioned, not started")
                : WorkloadObservation.NotFound($"vPod '{vpodId}' has no directory under {_directories.VPodsRoot}");
        }

        if (!IsThisNode(handle))
        {
            return WorkloadObservation.NotFound($"the handle is for node '{handle.Node}'; this silo runs on '{_nodeId}' (another machine or an earlier boot)");
        }

        if (!TryParsePid(handle, out var pid))
        {
            return WorkloadObservation.NotFound($"'{handle.Id}' is not a process id");
        }

        if (current is not null && IsTracked(current, handle))
        {
            // Exited once the output is in the log too, so whoever reacts to the exit reads the complete log.
            return current.Completed.IsCompletedSuccessfully
                ? new WorkloadObservation(WorkloadState.Exited, current.Completed.Result, current.OomKilled, Detail: ExitDetail(pid, current.Completed.Result, current.OomKilled))
                : new WorkloadObservation(WorkloadState.Running, Detail: $"process {pid}");
        }

        if (FindExit(vpodId, handle) is { } recorded)
        {
            return new WorkloadObservation(WorkloadState.Exited, recorded.ExitCode, recorded.OomKilled, Detail: ExitDetail(pid, recorded.ExitCode, recorded.OomKilled));
        }

        if (FindLive(handle) is not null)
        {
            return new WorkloadObservation(
                WorkloadState.Orphaned,
                Detail: $"process {pid} is alive but was started by runtime instance '{handle.Owner ?? "unknown"}' and is not supervised by this one ('{_instanceId}')");
        }

        return WorkloadObservation.NotFound(ProcFs.ReadStat(pid) is { IsAlive: true }
            ? $"pid {pid} now belongs to another process (its start time differs from the handle's)"
            : $"process {pid} is gone");
    }

    private static bool TryParsePid(RuntimeHandle handle, out int pid) =>
        int.TryParse(handle.Id, NumberStyles.None, CultureInfo.InvariantCulture, out pid) && pid > 0;

    private static string ExitDetail(int pid, int exitCode, bool oomKilled) =>
        oomKilled
            ? $"process {pid} was killed by the kernel's OOM killer at the vPod's memory limit (exit code {exitCode})"
            : $"process {pid} exited with code {exitCode}";
}
