using MetaNode.VPods;

namespace MetaNode.Grains.VPods;

/// <summary>Turns one probe result and the count of consecutive failures into a trigger for the state machine.</summary>
public static class HealthEvaluator
{
    /// <param name="probeOk">Whether this probe passed.</param>
    /// <param name="consecutiveFailures">Failures in a row including this one (0 when it passed).</param>
    /// <param name="failureThreshold">Failures in a row that make the workload unhealthy.</param>
    /// <param name="inStartupGrace">Whether the workload is still within its start-up grace period.</param>
    public static VPodTrigger Evaluate(bool probeOk, int consecutiveFailures, int failureThreshold, bool inStartupGrace)
    {
        if (probeOk)
        {
            return VPodTrigger.ProbeHealthy;
        }

        if (inStartupGrace)
        {
            return VPodTrigger.ProbeDegraded;
        }

        return consecutiveFailures >= failureThreshold ? VPodTrigger.ProbeUnhealthy : VPodTrigger.ProbeDegraded;
    }
}
