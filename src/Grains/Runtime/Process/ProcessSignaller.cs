using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// Stops workload processes: SIGTERM, then SIGKILL after a timeout (or SIGKILL at once), to the whole process group when the
/// process leads one. A pid is only signalled while its start time still matches, so a pid reused by another program is never touched.
/// </summary>
internal sealed partial class ProcessSignaller
{
    /// <summary>How long a process may take to die after SIGKILL before stopping reports a failure.</summary>
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan ForeignPollInterval = TimeSpan.FromMilliseconds(50);

    private readonly ILogger _logger;

    public ProcessSignaller(ILogger logger) => _logger = logger;

    /// <summary>Stops a process this instance supervises and waits for its output to reach the log; returns its exit code.</summary>
    public async Task<int?> StopOwnedAsync(ManagedProcess managed, TimeSpan timeout, bool force, CancellationToken cancellationToken)
    {
        if (managed.ExitCode is null)
        {
            if (!force)
            {
                LogStopping(_logger, managed.VPodId, managed.Pid, timeout);
                SignalOwned(managed, NativeMethods.SigTerm);
                if (!await BoundedWait.WaitAsync(managed.Exited, timeout, cancellationToken).ConfigureAwait(false))
                {
                    LogKillingAfterTimeout(_logger, managed.VPodId, managed.Pid, timeout);
                    SignalOwned(managed, NativeMethods.SigKill);
                }
            }
            else
            {
                LogKilling(_logger, managed.VPodId, managed.Pid);
                SignalOwned(managed, NativeMethods.SigKill);
            }

            if (!await BoundedWait.WaitAsync(managed.Exited, KillWait, cancellationToken).ConfigureAwait(false))
            {
                throw new TimeoutException($"vPod '{managed.VPodId}': process {managed.Pid} did not exit within {KillWait.TotalSeconds:0}s of SIGKILL; it may be stuck in uninterruptible I/O.");
            }
        }

        // Let the output reach the log before reporting the stop.
        await BoundedWait.WaitAsync(managed.Completed, ProcessExitMonitor.DrainWait, cancellationToken).ConfigureAwait(false);
        return managed.ExitCode;
    }

    /// <summary>Stops a live process another runtime instance started (nobody here can wait for it: its end is polled).</summary>
    public async Task StopForeignAsync(string vpodId, ProcStat process, TimeSpan timeout, bool force, CancellationToken cancellationToken)
    {
        var group = process.ProcessGroup == process.Pid;
        if (!force)
        {
            LogStoppingOrphan(_logger, vpodId, process.Pid, "SIGTERM", timeout);
            SignalForeign(vpodId, process, group, NativeMethods.SigTerm);
            if (await WaitGoneAsync(process, timeout, cancellationToken).ConfigureAwait(false))
            {
                KillGroupLeftovers(vpodId, process, group);
                return;
            }

            LogKillingAfterTimeout(_logger, vpodId, process.Pid, timeout);
        }
        else
        {
            LogStoppingOrphan(_logger, vpodId, process.Pid, "SIGKILL", TimeSpan.Zero);
        }

        SignalForeign(vpodId, process, group, NativeMethods.SigKill);
        if (!await WaitGoneAsync(process, KillWait, cancellationToken).ConfigureAwait(false))
        {
            throw new TimeoutException($"vPod '{vpodId}': process {process.Pid} did not exit within {KillWait.TotalSeconds:0}s of SIGKILL; it may be stuck in uninterruptible I/O.");
        }

        KillGroupLeftovers(vpodId, process, group);
    }

    /// <summary>SIGKILL to the process group led by <paramref name="leaderPid"/>: whatever its leader left behind.</summary>
    public void KillGroup(string vpodId, int leaderPid) => TrySignal(vpodId, -leaderPid, NativeMethods.SigKill);

    private void KillGroupLeftovers(string vpodId, ProcStat leader, bool group)
    {
        if (group)
        {
            KillGroup(vpodId, leader.Pid);
        }
    }

    private void SignalOwned(ManagedProcess managed, int signal)
    {
        if (managed.ExitCode is null)
        {
            SignalVerified(managed.VPodId, managed.Pid, managed.StartMarker, managed.Isolated, signal);
        }
    }

    private void SignalForeign(string vpodId, ProcStat process, bool group, int signal) =>
        SignalVerified(vpodId, process.Pid, process.StartTicks, group, signal);

    /// <summary>
    /// Signals <paramref name="pid"/> only while it is still the process that started at <paramref name="startMarker"/>; its whole
    /// group when it leads one (a group id is not reused while the leader lives), else the process alone (e.g. before setsid ran).
    /// </summary>
    private void SignalVerified(string vpodId, int pid, long startMarker, bool group, int signal)
    {
        if (ProcFs.ReadStat(pid) is not { IsAlive: true } now || now.StartTicks != startMarker)
        {
            return;
        }

        if (group && now.ProcessGroup == pid && TrySignal(vpodId, -pid, signal))
        {
            return;
        }

        TrySignal(vpodId, pid, signal);
    }

    private bool TrySignal(string vpodId, int target, int signal)
    {
        try
        {
            return NativeMethods.SendSignal(target, signal);
        }
        catch (InvalidOperationException ex)
        {
            LogSignalFailed(_logger, ex, vpodId, signal, target);
            return false;
        }
    }

    private static async Task<bool> WaitGoneAsync(ProcStat process, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            if (ProcFs.ReadStat(process.Pid) is not { IsAlive: true } now || now.StartTicks != process.StartTicks)
            {
                return true;
            }

            if (Stopwatch.GetElapsedTime(started) >= timeout)
            {
                return false;
            }

            await Task.Delay(ForeignPollInterval, cancellationToken).ConfigureAwait(false);
        }
    }
}
