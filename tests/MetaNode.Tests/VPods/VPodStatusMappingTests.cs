using MetaNode.Grains.Runtime;
using MetaNode.Grains.VPods;
using MetaNode.VPods;

namespace MetaNode.Tests.VPods;

public sealed class VPodStatusMappingTests
{
    private const string A = "0x00000000000000000000000000000000000000aa";
    private const string B = "0x00000000000000000000000000000000000000bb";
    private static readonly DateTimeOffset T0 = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private static readonly VPodSpec Spec = new() { Name = "worker-1", Type = VPodType.Validator, Ports = [8545] };

    private static VPodState State(VPodPhase phase = VPodPhase.Running) => new()
    {
        Spec = Spec,
        Phase = phase,
        Health = VPodHealth.Healthy,
        Handle = new RuntimeHandle(DeploymentMethod.Process, "p-1", "node-a", T0, Endpoint: "http://127.0.0.1:8545"),
        RestartCount = 2,
        CreatedAt = T0,
        StartedAt = T0.AddMinutes(1),
        UpdatedAt = T0.AddMinutes(2),
        LastExitCode = 137,
        Reason = "workload started",
        Transitions = [new VPodTransition(VPodPhase.Starting, VPodPhase.Running, VPodTrigger.ProbeHealthy, "health probe passed", T0)],
        Address = A,
        ProvedAddress = B,
        ProvedAt = T0.AddMinutes(3),
        OomKilled = true,
    };

    [Fact]
    public void ToStatus_ShowsTheRecord()
    {
        var state = State();
        var status = VPodStatusMapping.ToStatus("vp-1", Spec, state, "no answer", "cpu");

        Assert.Equal("vp-1", status.Id);
        Assert.Equal("worker-1", status.Name);
        Assert.Equal(VPodType.Validator, status.Type);
        Assert.Equal(DeploymentMethod.Process, status.DeploymentMethod);
        Assert.Equal(VPodPhase.Running, status.Phase);
        Assert.Equal(VPodHealth.Healthy, status.Health);
        Assert.Equal(2, status.RestartCount);
        Assert.Equal(state.Handle, status.Handle);
        Assert.Equal("http://127.0.0.1:8545", status.Endpoint);
        Assert.Equal(T0, status.CreatedAt);
        Assert.Equal(T0.AddMinutes(1), status.StartedAt);
        Assert.Equal(T0.AddMinutes(2), status.UpdatedAt);
        Assert.Equal(137, status.LastExitCode);
        Assert.True(status.OomKilled);
        Assert.Equal("workload started", status.Reason);
        Assert.Equal(state.Transitions, status.Transitions);
        Assert.NotSame(state.Transitions, status.Transitions);
        Assert.Same(Spec, status.Spec);
        Assert.Equal(A, status.Address);
        Assert.Equal(B, status.ProvedAddress);
        Assert.Equal(T0.AddMinutes(3), status.ProvedAt);
        Assert.Equal(VPodIdentityState.Changed, status.Identity);
        Assert.Equal("no answer", status.IdentityError);
        Assert.Equal("cpu", status.LimitsNotEnforced);
    }

    [Theory]
    [InlineData(VPodPhase.Running, false, false, false)]
    [InlineData(VPodPhase.Running, true, false, true)]
    [InlineData(VPodPhase.Failed, false, true, true)]
    [InlineData(VPodPhase.Stopping, false, false, true)]
    [InlineData(VPodPhase.Provisioning, false, false, true)]
    [InlineData(VPodPhase.Stopped, false, false, false)]
    public void ToSummary_ShouldRun_WhenWantedRestartingOrMidOperation(VPodPhase phase, bool desired, bool restartPending, bool shouldRun)
    {
        var state = State(phase);
        state.DesiredRunning = desired;
        state.NextRestartAt = restartPending ? T0 : null;

        var summary = VPodStatusMapping.ToSummary("vp-1", Spec, state);

        Assert.Equal(shouldRun, summary.ShouldRun);
        Assert.Equal("vp-1", summary.Id);
        Assert.Equal("worker-1", summary.Name);
        Assert.Equal(phase, summary.Phase);
        Assert.Equal(2, summary.RestartCount);
        Assert.Equal(T0.AddMinutes(2), summary.UpdatedAt);
    }

    [Fact]
    public void LimitsNotEnforced_WithoutARuntimeForTheMethod_SaysSo() =>
        Assert.Equal("no docker runtime here", VPodStatusMapping.LimitsNotEnforced(new NoRuntimes(), DeploymentMethod.Docker));

    private sealed class NoRuntimes : IVPodRuntimeResolver
    {
        public IVPodRuntime Resolve(DeploymentMethod method) => throw new InvalidVPodSpecException($"no {method.ToString().ToLowerInvariant()} runtime here");
    }
}
