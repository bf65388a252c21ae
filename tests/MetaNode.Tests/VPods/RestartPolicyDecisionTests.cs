using MetaNode.Grains.VPods;
using MetaNode.VPods;

namespace MetaNode.Tests.VPods;

public sealed class RestartPolicyDecisionTests
{
    [Theory]
    [InlineData(RestartPolicy.Never, WorkloadEnd.Completed, false)]
    [InlineData(RestartPolicy.Never, WorkloadEnd.Crashed, false)]
    [InlineData(RestartPolicy.Never, WorkloadEnd.Lost, false)]
    [InlineData(RestartPolicy.Never, WorkloadEnd.Unhealthy, false)]
    [InlineData(RestartPolicy.OnFailure, WorkloadEnd.Completed, false)]
    [InlineData(RestartPolicy.OnFailure, WorkloadEnd.Crashed, true)]
    [InlineData(RestartPolicy.OnFailure, WorkloadEnd.Lost, true)]
    [InlineData(RestartPolicy.OnFailure, WorkloadEnd.Unhealthy, true)]
    [InlineData(RestartPolicy.Always, WorkloadEnd.Completed, true)]
    [InlineData(RestartPolicy.Always, WorkloadEnd.Crashed, true)]
    [InlineData(RestartPolicy.Always, WorkloadEnd.Lost, true)]
    [InlineData(RestartPolicy.Always, WorkloadEnd.Unhealthy, true)]
    public void ShouldRestart_FollowsThePolicy(RestartPolicy policy, WorkloadEnd end, bool expected) =>
        Assert.Equal(expected, RestartPolicyDecision.ShouldRestart(policy, end));

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(6, 32)]
    [InlineData(7, 60)]
    [InlineData(1000, 60)]
    public void Backoff_DoublesPerFailure_UpToTheCap(int failures, int expectedSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), RestartPolicyDecision.Backoff(failures, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60)));

    [Theory]
    [InlineData(0, false, WorkloadEnd.Completed)]
    [InlineData(1, false, WorkloadEnd.Crashed)]
    [InlineData(137, true, WorkloadEnd.Crashed)]
    [InlineData(0, true, WorkloadEnd.Crashed)]
    [InlineData(null, false, WorkloadEnd.Crashed)]
    public void Classify_TellsCompletionFromCrash(int? exitCode, bool oom, WorkloadEnd expected) =>
        Assert.Equal(expected, RestartPolicyDecision.Classify(exitCode, oom));

    [Theory]
    [InlineData(true, 0, false, VPodTrigger.ProbeHealthy)]
    [InlineData(false, 1, false, VPodTrigger.ProbeDegraded)]
    [InlineData(false, 2, false, VPodTrigger.ProbeDegraded)]
    [InlineData(false, 3, false, VPodTrigger.ProbeUnhealthy)]
    [InlineData(false, 10, true, VPodTrigger.ProbeDegraded)]
    [InlineData(true, 0, true, VPodTrigger.ProbeHealthy)]
    public void HealthEvaluator_CountsFailuresAgainstTheThreshold(bool ok, int failures, bool grace, VPodTrigger expected) =>
        Assert.Equal(expected, HealthEvaluator.Evaluate(ok, failures, failureThreshold: 3, inStartupGrace: grace));
}
