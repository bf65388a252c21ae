using MetaNode.Grains.Hosting;
using MetaNode.Grains.Runtime;
using MetaNode.VPods;

namespace MetaNode.Grains.VPods;

// Health: a timer inspects and probes the running workload; the evaluator's verdict moves the phase.
public sealed partial class VPodGrain
{
    private IGrainTimer? _healthTimer;
    private TimeSpan _healthTimerPeriod;
    private int _consecutiveProbeFailures;

    private async Task OnHealthTickAsync(CancellationToken cancellationToken)
    {
        using var scope = logger.BeginVPod(Id);
        if (!VPodStateMachine.HasWorkload(State.Phase) || State.Handle is not { } handle)
        {
            StopHealthTimer();
            return;
        }

        var observation = await Runtime.InspectAsync(Id, handle, cancellationToken);
        switch (observation.State)
        {
            case WorkloadState.Exited:
                await OnWorkloadEndedAsync(RestartPolicyDecision.Classify(observation.ExitCode, observation.OomKilled), observation, cancellationToken);
                return;
            case WorkloadState.NotFound:
                await OnWorkloadEndedAsync(WorkloadEnd.Lost, observation, cancellationToken);
                return;
            case WorkloadState.Orphaned:
                await Runtime.StopAsync(Id, handle, _options.OrphanStopTimeout, force: false, cancellationToken);
                await OnWorkloadEndedAsync(WorkloadEnd.Lost, observation, cancellationToken);
                return;
            case WorkloadState.Running:
                break;
            default:
                return;
        }

        var healthy = handle.Endpoint is not { } endpoint || await ProbeAsync(endpoint, cancellationToken);

        // The probe awaited: a stop or delete may have run meanwhile.
        if (!VPodStateMachine.HasWorkload(State.Phase) || State.Handle != handle)
        {
            return;
        }

        _consecutiveProbeFailures = healthy ? 0 : _consecutiveProbeFailures + 1;
        var now = time.GetUtcNow();
        var inGrace = State.Phase == VPodPhase.Starting && State.StartedAt is { } started && now - started < _options.StartupGracePeriod;
        var trigger = HealthEvaluator.Evaluate(healthy, _consecutiveProbeFailures, _options.FailureThreshold, inGrace);
        if (trigger == VPodTrigger.ProbeUnhealthy)
        {
            LogUnhealthy(logger, Id, _consecutiveProbeFailures);
            await Runtime.StopAsync(Id, handle, _options.OrphanStopTimeout, force: false, cancellationToken);
            await OnWorkloadEndedAsync(WorkloadEnd.Unhealthy, new WorkloadObservation(WorkloadState.Running, Detail: $"{_consecutiveProbeFailures} health probes failed in a row"), cancellationToken);
            return;
        }

        var before = (State.Phase, State.Health);
        State.Health = trigger == VPodTrigger.ProbeHealthy ? VPodHealth.Healthy : VPodHealth.Degraded;
        if (VPodStateMachine.Next(State.Phase, trigger) is { } next && next != State.Phase)
        {
            Apply(trigger, trigger == VPodTrigger.ProbeHealthy ? "health probe passed" : "health probe failed");
        }

        if (State.Phase == VPodPhase.Running && State.StartedAt is { } since && now - since >= _options.BackoffResetAfter)
        {
            State.ConsecutiveFailures = 0;
        }

        if (before != (State.Phase, State.Health))
        {
            await PersistAsync(cancellationToken);
        }

        if (State.Phase != VPodPhase.Starting)
        {
            EnsureHealthTimer();
        }

        if (healthy && handle.Endpoint is not null)
        {
            await ProveOncePerLaunchAsync(handle.Endpoint, cancellationToken);
        }
    }

    // Timer callbacks run with CancellationToken.None: a tick stops or replaces its own timer (after a failure,
    // a restart, a phase change), and disposing a grain timer cancels the token of the tick that is running.
    private void EnsureHealthTimer()
    {
        var period = State.Phase == VPodPhase.Starting ? _options.StartupProbeInterval : _options.ProbeInterval;
        if (_healthTimer is not null && _healthTimerPeriod == period)
        {
            return;
        }

        StopHealthTimer();
        _healthTimerPeriod = period;

        // A starting workload without an endpoint has nothing to wait for: the first look at the runtime comes at once, so it
        // is Running as soon as the runtime sees it run. One with an endpoint gets its server a period to come up.
        var due = State.Phase == VPodPhase.Starting && State.Handle is { Endpoint: null } ? TimeSpan.Zero : period;
        _healthTimer = this.RegisterGrainTimer(_ => OnHealthTickAsync(CancellationToken.None), new GrainTimerCreationOptions(due, period) { KeepAlive = true });
    }

    private void StopHealthTimer()
    {
        _healthTimer?.Dispose();
        _healthTimer = null;
    }

    private async Task<bool> ProbeAsync(string endpoint, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var healthy = await probe.IsHealthyAsync(endpoint, cancellationToken);
        metrics.ProbeCompleted(time.GetElapsedTime(started), healthy);
        return healthy;
    }
}
