using System.ComponentModel;
using Microsoft.Extensions.Logging;
using OsProcess = System.Diagnostics.Process;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// Waits for a supervised process to exit, then tells its exit: the out-of-memory mark of its cgroup, the kill of whatever it
/// left in its process group, the drain of its output into the log and the record in the vPod's exit history.
/// </summary>
internal sealed partial class ProcessExitMonitor
{
    /// <summary>How long the output pipes may stay open after the process exited before its exit is reported anyway.</summary>
    public static readonly TimeSpan DrainWait = TimeSpan.FromSeconds(5);

    private readonly ILogger _logger;
    private readonly ProcessIsolation _isolation;
    private readonly ProcessSignaller _signaller;
    private readonly ProcessExitHistory _exits;

    public ProcessExitMonitor(ILogger logger, ProcessIsolation isolation, ProcessSignaller signaller, ProcessExitHistory exits)
    {
        _logger = logger;
        _isolation = isolation;
        _signaller = signaller;
        _exits = exits;
    }

    /// <summary>Runs until the process has exited and its exit is told; <see cref="ManagedProcess.Completed"/> completes in any case.</summary>
    public async Task MonitorAsync(ManagedProcess managed, RotatingLogWriter writer)
    {
        var exitCode = -1;
        try
        {
            await managed.Process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            exitCode = managed.Process.ExitCode;
            if (_isolation.Cgroups is { } cgroups)
            {
                // Before the exit is told: the mark the kernel's OOM killer leaves in the cgroup's counters.
                managed.OomKilled = cgroups.OomKills(managed.VPodId) > managed.OomKillsAtStart;
            }

            managed.MarkExited(exitCode);
            if (managed.Isolated)
            {
                // The main process is gone: so is whatever it left running in its group, as when a container's main process exits.
                _signaller.KillGroup(managed.VPodId, managed.Pid);
            }

            if (!await BoundedWait.WaitAsync(managed.Pumps, DrainWait, CancellationToken.None).ConfigureAwait(false))
            {
                LogOutputStillOpen(_logger, managed.VPodId, managed.Pid);
            }

            writer.Flush();
            _exits.Record(managed, exitCode);
            LogExited(_logger, managed.VPodId, managed.Pid, exitCode);
        }
        catch (Exception ex) when (ex is InvalidOperationException or Win32Exception)
        {
            LogMonitorFailed(_logger, ex, managed.VPodId, managed.Pid);
        }
        finally
        {
            managed.MarkCompleted(exitCode);
            if (managed.Pumps.IsCompleted)
            {
                managed.Process.Dispose();
            }
            else
            {
                _ = managed.Pumps.ContinueWith(static (_, state) => ((OsProcess)state!).Dispose(), managed.Process, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
    }
}
