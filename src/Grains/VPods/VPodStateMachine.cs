using MetaNode.VPods;

namespace MetaNode.Grains.VPods;

/// <summary>
/// The vPod state machine as a pure function: which phase a trigger leads to from a phase, or none when the
/// trigger is not allowed there. The grain applies the result, persists it, then acts.
/// </summary>
public static class VPodStateMachine
{
    /// <summary>The phase <paramref name="trigger"/> leads to from <paramref name="phase"/>, or null when it is not allowed.</summary>
    public static VPodPhase? Next(VPodPhase phase, VPodTrigger trigger) => (phase, trigger) switch
    {
        (VPodPhase.None, VPodTrigger.Create) => VPodPhase.Pending,

        // User operations.
        (VPodPhase.Pending, VPodTrigger.Start) => VPodPhase.Provisioning,
        (VPodPhase.Stopped or VPodPhase.Failed, VPodTrigger.Start) => VPodPhase.Starting,

        (VPodPhase.Provisioning or VPodPhase.Starting or VPodPhase.Running or VPodPhase.Degraded
            or VPodPhase.Restarting or VPodPhase.Failed, VPodTrigger.Stop) => VPodPhase.Stopping,

        (VPodPhase.Starting or VPodPhase.Running or VPodPhase.Degraded or VPodPhase.Stopped
            or VPodPhase.Failed, VPodTrigger.Restart) => VPodPhase.Restarting,

        (not (VPodPhase.None or VPodPhase.Deleting or VPodPhase.Deleted), VPodTrigger.Delete) => VPodPhase.Deleting,

        // Completions and observations.
        (VPodPhase.Provisioning, VPodTrigger.Provisioned) => VPodPhase.Starting,
        (VPodPhase.Provisioning, VPodTrigger.ProvisionFailed) => VPodPhase.Failed,
        (VPodPhase.Starting or VPodPhase.Restarting, VPodTrigger.Launched) => VPodPhase.Starting,
        (VPodPhase.Starting or VPodPhase.Restarting, VPodTrigger.ProvisionFailed) => VPodPhase.Failed,

        (VPodPhase.Starting or VPodPhase.Running or VPodPhase.Degraded, VPodTrigger.ProbeHealthy) => VPodPhase.Running,
        (VPodPhase.Running or VPodPhase.Degraded, VPodTrigger.ProbeDegraded) => VPodPhase.Degraded,
        (VPodPhase.Starting, VPodTrigger.ProbeDegraded) => VPodPhase.Starting,
        (VPodPhase.Starting or VPodPhase.Running or VPodPhase.Degraded, VPodTrigger.ProbeUnhealthy) => VPodPhase.Failed,

        (VPodPhase.Starting or VPodPhase.Running or VPodPhase.Degraded, VPodTrigger.Exited) => VPodPhase.Failed,
        (VPodPhase.Starting or VPodPhase.Running or VPodPhase.Degraded, VPodTrigger.Completed) => VPodPhase.Stopped,
        (VPodPhase.Provisioning or VPodPhase.Starting or VPodPhase.Running or VPodPhase.Degraded
            or VPodPhase.Restarting, VPodTrigger.Lost) => VPodPhase.Failed,

        (VPodPhase.Stopping, VPodTrigger.StopCompleted) => VPodPhase.Stopped,
        (VPodPhase.Deleting, VPodTrigger.DeleteCompleted) => VPodPhase.Deleted,
        (VPodPhase.Failed or VPodPhase.Stopped, VPodTrigger.BackoffElapsed) => VPodPhase.Restarting,

        _ => null,
    };

    /// <summary>Whether a workload is expected to be running (or about to be) in this phase.</summary>
    public static bool HasWorkload(VPodPhase phase) => phase is VPodPhase.Starting or VPodPhase.Running or VPodPhase.Degraded;

    /// <summary>
    /// Whether the vPod's workload exists (running or not) so data files can be placed for it: not before it is provisioned,
    /// not while a stop, restart or delete is under way, never once deleted.
    /// </summary>
    public static bool HoldsData(VPodPhase phase) =>
        phase is VPodPhase.Starting or VPodPhase.Running or VPodPhase.Degraded or VPodPhase.Stopped or VPodPhase.Failed;

    /// <summary>Phases the grain left half-done when its silo stopped; reconciliation finishes them.</summary>
    public static bool IsTransitional(VPodPhase phase) =>
        phase is VPodPhase.Provisioning or VPodPhase.Restarting or VPodPhase.Stopping or VPodPhase.Deleting;

    /// <summary>The health shown for a phase when no probe result says otherwise.</summary>
    public static VPodHealth HealthFor(VPodPhase phase, VPodHealth probed) => phase switch
    {
        VPodPhase.Running => VPodHealth.Healthy,
        VPodPhase.Degraded => VPodHealth.Degraded,
        VPodPhase.Failed => VPodHealth.Unhealthy,
        VPodPhase.Starting => probed == VPodHealth.Healthy ? VPodHealth.Unknown : probed,
        _ => VPodHealth.Unknown,
    };
}
