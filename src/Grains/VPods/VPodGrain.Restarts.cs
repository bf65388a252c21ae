using MetaNode.Grains.Runtime;
using MetaNode.VPods;

namespace MetaNode.Grains.VPods;

// Restarts: when the workload ended, the restart policy decides whether and when it starts again; a timer brings it back.
public sealed partial class VPodGrain
{
    private IGrainTimer? _restartTimer;

    private async Task OnWorkloadEndedAsync(WorkloadEnd end, WorkloadObservation observation, CancellationToken cancellationToken)
    {
        StopHealthTimer();
        State.LastExitCode = observation.ExitCode;
        State.OomKilled = observation.OomKilled;
        var trigger = end switch
        {
            WorkloadEnd.Completed => VPodTrigger.Completed,
            WorkloadEnd.Crashed => VPodTrigger.Exited,
            WorkloadEnd.Unhealthy => VPodTrigger.ProbeUnhealthy,
            _ => VPodTrigger.Lost,
        };
        var reason = end switch
        {
            WorkloadEnd.Completed => "workload exited with code 0",
            WorkloadEnd.Crashed when observation.OomKilled => $"workload was killed: out of memory (exit code {observation.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}, memory limit {ResourceQuantity.FormatMemory(Spec.MemoryBytes)})",
            WorkloadEnd.Crashed => $"workload exited with code {observation.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}",
            WorkloadEnd.Unhealthy => $"unhealthy: {observation.Detail}",
            _ => $"workload lost: {observation.Detail}",
        };
        LogWorkloadEnded(logger, Id, end, reason);
        Apply(trigger, reason);
        await AfterFailureAsync(end, cancellationToken);
    }

    /// <summary>Applies the restart policy after the workload ended; the phase is already Failed or Stopped.</summary>
    private async Task AfterFailureAsync(WorkloadEnd end, CancellationToken cancellationToken)
    {
        State.Health = State.Phase == VPodPhase.Failed ? VPodHealth.Unhealthy : VPodHealth.Unknown;
        var now = time.GetUtcNow();
        if (State.StartedAt is { } started && now - started >= _options.BackoffResetAfter)
        {
            State.ConsecutiveFailures = 0;
        }

        if (end != WorkloadEnd.Completed)
        {
            State.ConsecutiveFailures++;
        }

        if (RestartPolicyDecision.ShouldRestart(Spec.RestartPolicy, end))
        {
            var delay = RestartPolicyDecision.Backoff(Math.Max(1, State.ConsecutiveFailures), _options.RestartBackoffInitial, _options.RestartBackoffCap);
            State.NextRestartAt = now + delay;
            await PersistAsync(cancellationToken);
            LogRestartScheduled(logger, Id, delay, Spec.RestartPolicy);
            ScheduleRestart(delay);
        }
        else
        {
            State.NextRestartAt = null;
            State.DesiredRunning = false;
            await PersistAsync(cancellationToken);
        }
    }

    private void ScheduleRestart(TimeSpan delay)
    {
        CancelRestartTimer();
        _restartTimer = this.RegisterGrainTimer(
            _ => OnRestartDueAsync(CancellationToken.None),
            new GrainTimerCreationOptions(delay < TimeSpan.Zero ? TimeSpan.Zero : delay, Timeout.InfiniteTimeSpan) { KeepAlive = true });
    }

    private async Task OnRestartDueAsync(CancellationToken cancellationToken)
    {
        CancelRestartTimer();
        if (State.NextRestartAt is null || VPodStateMachine.Next(State.Phase, VPodTrigger.BackoffElapsed) is null)
        {
            return;
        }

        State.NextRestartAt = null;
        State.DesiredRunning = true;
        Apply(VPodTrigger.BackoffElapsed, $"restart policy {Spec.RestartPolicy}: restarting");
        await PersistAsync(cancellationToken);
        await RelaunchAsync(countRestart: true, cancellationToken);
    }

    private void CancelRestart()
    {
        State.NextRestartAt = null;
        CancelRestartTimer();
    }

    private void CancelRestartTimer()
    {
        _restartTimer?.Dispose();
        _restartTimer = null;
    }
}
