using MetaNode.Grains.VPods;
using MetaNode.VPods;

namespace MetaNode.Tests.VPods;

public sealed class VPodStateMachineTests
{
    private static readonly VPodPhase[] Phases = Enum.GetValues<VPodPhase>();
    private static readonly VPodTrigger[] Triggers = Enum.GetValues<VPodTrigger>();

    /// <summary>Every allowed transition, written out from the design's state diagram. Anything not here must be refused.</summary>
    private static readonly Dictionary<(VPodPhase, VPodTrigger), VPodPhase> Allowed = new()
    {
        [(VPodPhase.None, VPodTrigger.Create)] = VPodPhase.Pending,

        [(VPodPhase.Pending, VPodTrigger.Start)] = VPodPhase.Provisioning,
        [(VPodPhase.Stopped, VPodTrigger.Start)] = VPodPhase.Starting,
        [(VPodPhase.Failed, VPodTrigger.Start)] = VPodPhase.Starting,

        [(VPodPhase.Provisioning, VPodTrigger.Stop)] = VPodPhase.Stopping,
        [(VPodPhase.Starting, VPodTrigger.Stop)] = VPodPhase.Stopping,
        [(VPodPhase.Running, VPodTrigger.Stop)] = VPodPhase.Stopping,
        [(VPodPhase.Degraded, VPodTrigger.Stop)] = VPodPhase.Stopping,
        [(VPodPhase.Restarting, VPodTrigger.Stop)] = VPodPhase.Stopping,
        [(VPodPhase.Failed, VPodTrigger.Stop)] = VPodPhase.Stopping,

        [(VPodPhase.Starting, VPodTrigger.Restart)] = VPodPhase.Restarting,
        [(VPodPhase.Running, VPodTrigger.Restart)] = VPodPhase.Restarting,
        [(VPodPhase.Degraded, VPodTrigger.Restart)] = VPodPhase.Restarting,
        [(VPodPhase.Stopped, VPodTrigger.Restart)] = VPodPhase.Restarting,
        [(VPodPhase.Failed, VPodTrigger.Restart)] = VPodPhase.Restarting,

        [(VPodPhase.Pending, VPodTrigger.Delete)] = VPodPhase.Deleting,
        [(VPodPhase.Provisioning, VPodTrigger.Delete)] = VPodPhase.Deleting,
        [(VPodPhase.Starting, VPodTrigger.Delete)] = VPodPhase.Deleting,
        [(VPodPhase.Running, VPodTrigger.Delete)] = VPodPhase.Deleting,
        [(VPodPhase.Degraded, VPodTrigger.Delete)] = VPodPhase.Deleting,
        [(VPodPhase.Stopping, VPodTrigger.Delete)] = VPodPhase.Deleting,
        [(VPodPhase.Stopped, VPodTrigger.Delete)] = VPodPhase.Deleting,
        [(VPodPhase.Restarting, VPodTrigger.Delete)] = VPodPhase.Deleting,
        [(VPodPhase.Failed, VPodTrigger.Delete)] = VPodPhase.Deleting,

        [(VPodPhase.Provisioning, VPodTrigger.Provisioned)] = VPodPhase.Starting,
        [(VPodPhase.Provisioning, VPodTrigger.ProvisionFailed)] = VPodPhase.Failed,
        [(VPodPhase.Starting, VPodTrigger.ProvisionFailed)] = VPodPhase.Failed,
        [(VPodPhase.Restarting, VPodTrigger.ProvisionFailed)] = VPodPhase.Failed,
        [(VPodPhase.Starting, VPodTrigger.Launched)] = VPodPhase.Starting,
        [(VPodPhase.Restarting, VPodTrigger.Launched)] = VPodPhase.Starting,

        [(VPodPhase.Starting, VPodTrigger.ProbeHealthy)] = VPodPhase.Running,
        [(VPodPhase.Running, VPodTrigger.ProbeHealthy)] = VPodPhase.Running,
        [(VPodPhase.Degraded, VPodTrigger.ProbeHealthy)] = VPodPhase.Running,
        [(VPodPhase.Starting, VPodTrigger.ProbeDegraded)] = VPodPhase.Starting,
        [(VPodPhase.Running, VPodTrigger.ProbeDegraded)] = VPodPhase.Degraded,
        [(VPodPhase.Degraded, VPodTrigger.ProbeDegraded)] = VPodPhase.Degraded,
        [(VPodPhase.Starting, VPodTrigger.ProbeUnhealthy)] = VPodPhase.Failed,
        [(VPodPhase.Running, VPodTrigger.ProbeUnhealthy)] = VPodPhase.Failed,
        [(VPodPhase.Degraded, VPodTrigger.ProbeUnhealthy)] = VPodPhase.Failed,

        [(VPodPhase.Starting, VPodTrigger.Exited)] = VPodPhase.Failed,
        [(VPodPhase.Running, VPodTrigger.Exited)] = VPodPhase.Failed,
        [(VPodPhase.Degraded, VPodTrigger.Exited)] = VPodPhase.Failed,
        [(VPodPhase.Starting, VPodTrigger.Completed)] = VPodPhase.Stopped,
        [(VPodPhase.Running, VPodTrigger.Completed)] = VPodPhase.Stopped,
        [(VPodPhase.Degraded, VPodTrigger.Completed)] = VPodPhase.Stopped,
        [(VPodPhase.Provisioning, VPodTrigger.Lost)] = VPodPhase.Failed,
        [(VPodPhase.Starting, VPodTrigger.Lost)] = VPodPhase.Failed,
        [(VPodPhase.Running, VPodTrigger.Lost)] = VPodPhase.Failed,
        [(VPodPhase.Degraded, VPodTrigger.Lost)] = VPodPhase.Failed,
        [(VPodPhase.Restarting, VPodTrigger.Lost)] = VPodPhase.Failed,

        [(VPodPhase.Stopping, VPodTrigger.StopCompleted)] = VPodPhase.Stopped,
        [(VPodPhase.Deleting, VPodTrigger.DeleteCompleted)] = VPodPhase.Deleted,
        [(VPodPhase.Failed, VPodTrigger.BackoffElapsed)] = VPodPhase.Restarting,
        [(VPodPhase.Stopped, VPodTrigger.BackoffElapsed)] = VPodPhase.Restarting,
    };

    public static TheoryData<VPodPhase, VPodTrigger> EveryPhaseAndTrigger()
    {
        var data = new TheoryData<VPodPhase, VPodTrigger>();
        foreach (var phase in Phases)
        {
            foreach (var trigger in Triggers)
            {
                data.Add(phase, trigger);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EveryPhaseAndTrigger))]
    public void Next_FollowsTheDesignTable_ForEveryPhaseAndTrigger(VPodPhase phase, VPodTrigger trigger)
    {
        var expected = Allowed.TryGetValue((phase, trigger), out var to) ? to : (VPodPhase?)null;
        Assert.Equal(expected, VPodStateMachine.Next(phase, trigger));
    }

    [Fact]
    public void Next_RefusesEveryOperation_WhenDeleted()
    {
        Assert.All(Triggers, t => Assert.Null(VPodStateMachine.Next(VPodPhase.Deleted, t)));
    }

    [Fact]
    public void Next_ReachesRunningFromCreate_ThroughTheDesignedPath()
    {
        var phase = VPodPhase.None;
        foreach (var trigger in new[] { VPodTrigger.Create, VPodTrigger.Start, VPodTrigger.Provisioned, VPodTrigger.Launched, VPodTrigger.ProbeHealthy })
        {
            phase = VPodStateMachine.Next(phase, trigger) ?? throw new Xunit.Sdk.XunitException($"{trigger} refused in {phase}");
        }

        Assert.Equal(VPodPhase.Running, phase);
    }

    [Fact]
    public void EveryPhaseExceptDeleted_CanBeLeft()
    {
        foreach (var phase in Phases.Where(p => p is not (VPodPhase.Deleted or VPodPhase.None)))
        {
            Assert.Contains(Triggers, t => VPodStateMachine.Next(phase, t) is { } next && next != phase);
        }
    }
}
