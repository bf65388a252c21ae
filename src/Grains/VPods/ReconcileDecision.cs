using MetaNode.Grains.Runtime;

namespace MetaNode.Grains.VPods;

/// <summary>Pure decisions of reconciliation: what a vPod whose recorded workload no longer runs under this silo does next.</summary>
public static class ReconcileDecision
{
    /// <summary>
    /// Whether the vPod starts its workload again at once, without counting a failure or waiting out a restart backoff:
    /// when its silo shut down under it (<paramref name="interrupted"/>), or when the workload still ran but under a runtime
    /// instance that is gone (<see cref="WorkloadState.Orphaned"/>: its silo died and it was stopped here to be replaced).
    /// Neither is the workload's fault, so the restart policy (which may be <c>Never</c>) does not decide. A workload that
    /// vanished (not found) is the restart policy's to handle.
    /// </summary>
    public static bool ResumesAtOnce(WorkloadState observed, bool interrupted) =>
        interrupted || observed == WorkloadState.Orphaned;
}
