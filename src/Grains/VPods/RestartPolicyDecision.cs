using MetaNode.VPods;

namespace MetaNode.Grains.VPods;

/// <summary>Why a workload stopped running without being asked to.</summary>
public enum WorkloadEnd
{
    None = 0,
    /// <summary>It exited with code 0.</summary>
    Completed = 1,
    /// <summary>It exited with a non-zero code or was killed (OOM, signal).</summary>
    Crashed = 2,
    /// <summary>The runtime lost it (process gone, silo died).</summary>
    Lost = 3,
    /// <summary>Health probes failed past the threshold.</summary>
    Unhealthy = 4,
}

/// <summary>Pure decisions of the restart policy: whether to restart, and after how long.</summary>
public static class RestartPolicyDecision
{
    /// <summary>Whether <paramref name="policy"/> restarts a workload that ended this way.</summary>
    public static bool ShouldRestart(RestartPolicy policy, WorkloadEnd end) => policy switch
    {
        RestartPolicy.Always => end != WorkloadEnd.None,
        RestartPolicy.OnFailure => end is WorkloadEnd.Crashed or WorkloadEnd.Lost or WorkloadEnd.Unhealthy,
        _ => false,
    };

    /// <summary>
    /// Exponential backoff: <paramref name="initial"/> × 2^(failures − 1), capped at <paramref name="cap"/>.
    /// <paramref name="consecutiveFailures"/> counts this failure (so the first restart waits <paramref name="initial"/>).
    /// </summary>
    public static TimeSpan Backoff(int consecutiveFailures, TimeSpan initial, TimeSpan cap)
    {
        if (consecutiveFailures <= 1)
        {
            return initial <= cap ? initial : cap;
        }

        var exponent = Math.Min(consecutiveFailures - 1, 30);
        var ticks = initial.Ticks * Math.Pow(2, exponent);
        return ticks >= cap.Ticks ? cap : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>The end a runtime observation stands for.</summary>
    public static WorkloadEnd Classify(int? exitCode, bool oomKilled) =>
        exitCode == 0 && !oomKilled ? WorkloadEnd.Completed : WorkloadEnd.Crashed;
}
