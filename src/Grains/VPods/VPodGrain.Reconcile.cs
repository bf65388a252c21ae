using MetaNode.Grains.Runtime;
using MetaNode.VPods;

namespace MetaNode.Grains.VPods;

// Reconciliation: on activation or on request, the record and the runtime are brought back in line.
public sealed partial class VPodGrain
{
    public async Task<VPodStatus> ReconcileAsync(CancellationToken cancellationToken = default)
    {
        EnsureExists();
        await ReconcileCoreAsync(cancellationToken);
        return ToStatus();
    }

    /// <summary>Brings the record and the runtime back in line: finishes half-done operations, adopts or replaces the workload.</summary>
    private async Task ReconcileCoreAsync(CancellationToken cancellationToken)
    {
        switch (State.Phase)
        {
            case VPodPhase.Pending:
                if (State.DesiredRunning)
                {
                    Apply(VPodTrigger.Start, "resuming create");
                    await PersistAsync(cancellationToken);
                    await ProvisionAndLaunchAsync(cancellationToken);
                }

                break;
            case VPodPhase.Provisioning:
                await ProvisionAndLaunchAsync(cancellationToken);
                break;
            case VPodPhase.Restarting:
                await RelaunchAsync(countRestart: false, cancellationToken);
                break;
            case VPodPhase.Stopping:
                await CompleteStopAsync(new StopOptions(), cancellationToken);
                break;
            case VPodPhase.Deleting:
                await CompleteDeleteAsync(new StopOptions(), cancellationToken);
                break;
            case VPodPhase.Starting or VPodPhase.Running or VPodPhase.Degraded:
                await ReconcileWorkloadAsync(cancellationToken);
                break;
            case VPodPhase.Failed or VPodPhase.Stopped when State.NextRestartAt is { } at:
                ScheduleRestart(at - time.GetUtcNow());
                break;
        }
    }

    private async Task ReconcileWorkloadAsync(CancellationToken cancellationToken)
    {
        var observation = State.Handle is { } handle
            ? await Runtime.InspectAsync(Id, handle, cancellationToken)
            : WorkloadObservation.NotFound("no runtime handle was recorded");
        switch (observation.State)
        {
            case WorkloadState.Running:
                State.Interrupted = false;
                EnsureHealthTimer();
                LogAdopted(logger, Id, State.Handle!.ToString());
                return;
            case WorkloadState.Exited:
                await OnWorkloadEndedAsync(RestartPolicyDecision.Classify(observation.ExitCode, observation.OomKilled), observation, cancellationToken);
                return;
            case WorkloadState.Orphaned:
                LogOrphan(logger, Id, State.Handle!.ToString());
                await Runtime.StopAsync(Id, State.Handle!, _options.OrphanStopTimeout, force: false, cancellationToken);
                break;
        }

        if (ReconcileDecision.ResumesAtOnce(observation.State, State.Interrupted))
        {
            // The silo shut down or died under a running workload: start it again, which is not a failure. Restarting is not
            // written on its own: the record as it is already makes the next reconciliation do the same, and the launch writes
            // the record and the registry once (a silo restart resumes every vPod, so each write less counts).
            // A clean shutdown's resume is not a restart of the workload; replacing an orphaned process is, and is counted (at once,
            // whatever the restart policy: the workload did not fail).
            var replaced = !State.Interrupted;
            Apply(VPodTrigger.Restart, replaced ? "resuming: the workload's silo is gone, its process was replaced" : "resuming after silo shutdown");
            State.Interrupted = false;
            await RelaunchAsync(countRestart: replaced, cancellationToken);
            return;
        }

        await OnWorkloadEndedAsync(WorkloadEnd.Lost, observation with { Detail = observation.Detail ?? "workload not found by the runtime" }, cancellationToken);
    }
}
