using System.Runtime.CompilerServices;
using MetaNode.VPods;
using OsProcess = System.Diagnostics.Process;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>A workload process this runtime instance started and supervises.</summary>
internal sealed class ManagedProcess(string vpodId, OsProcess process, RuntimeHandle handle, int pid, long startMarker, bool isolated)
{
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private StrongBox<int>? _exitCode;

    public string VPodId { get; } = vpodId;

    public OsProcess Process { get; } = process;

    public RuntimeHandle Handle { get; } = handle;

    public int Pid { get; } = pid;

    public long StartMarker { get; } = startMarker;

    /// <summary>Started as the leader of its own session and process group: signals go to the whole group.</summary>
    public bool Isolated { get; } = isolated;

    /// <summary>The vPod's cgroup OOM-kill count when the process started (isolated workloads only).</summary>
    public long OomKillsAtStart { get; init; }

    /// <summary>Set when the process ended and its cgroup had seen an OOM kill since it started.</summary>
    public bool OomKilled { get; set; }

    /// <summary>Both output pumps; they end when every holder of the pipes has closed them.</summary>
    public Task Pumps { get; set; } = Task.CompletedTask;

    /// <summary>Set as soon as the process has been reaped.</summary>
    public int? ExitCode => Volatile.Read(ref _exitCode)?.Value;

    /// <summary>Completes with the exit code as soon as the process has been reaped.</summary>
    public Task<int> Exited => _exited.Task;

    /// <summary>Completes with the exit code once the output has also been drained into the log (or the drain timed out).</summary>
    public Task<int> Completed => _completed.Task;

    public void MarkExited(int exitCode)
    {
        Volatile.Write(ref _exitCode, new StrongBox<int>(exitCode));
        _exited.TrySetResult(exitCode);
    }

    public void MarkCompleted(int exitCode)
    {
        MarkExited(exitCode);
        _completed.TrySetResult(exitCode);
    }
}

