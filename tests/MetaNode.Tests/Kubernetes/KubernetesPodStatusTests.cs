using k8s.Models;
using MetaNode.Grains.Runtime;
using MetaNode.Grains.Runtime.Kubernetes;

namespace MetaNode.Tests.Kubernetes;

public sealed class KubernetesPodStatusTests
{
    private static V1Pod Pod(string name, string phase, V1ContainerState state, V1ContainerState? last = null, params V1PodCondition[] conditions) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Status = new V1PodStatus
        {
            Phase = phase,
            Conditions = conditions,
            ContainerStatuses = [new V1ContainerStatus { Name = "workload", Image = "img:1", State = state, LastState = last, RestartCount = 2 }],
        },
    };

    private static V1ContainerState Running => new() { Running = new V1ContainerStateRunning() };

    private static V1ContainerState Waiting(string reason, string? message = null) => new() { Waiting = new V1ContainerStateWaiting { Reason = reason, Message = message } };

    [Fact]
    public void Observe_ReportsCreated_WhenThereIsNoPodYet()
    {
        var observation = KubernetesPodStatus.Observe([], 2);

        Assert.Equal(WorkloadState.Created, observation.State);
        Assert.Contains("waiting for 2 pods", observation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Observe_ReportsRunning_WithRunningAndReadyCounts()
    {
        var observation = KubernetesPodStatus.Observe(
            [Pod("a", "Running", Running, null, new V1PodCondition { Type = "Ready", Status = "True" }), Pod("b", "Pending", Waiting("ContainerCreating"))],
            2);

        Assert.Equal(WorkloadState.Running, observation.State);
        Assert.Equal("1/2 pods running, 1 ready", observation.Detail);
    }

    [Fact]
    public void Observe_ReportsExitCodeAndOomKill_WhenAContainerIsInCrashLoopBackOff()
    {
        var observation = KubernetesPodStatus.Observe(
            [Pod("a", "Running", Waiting("CrashLoopBackOff", "back-off 20s"), new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 137, Reason = "OOMKilled" } })],
            1);

        Assert.Equal((WorkloadState.Exited, 137, true), (observation.State, observation.ExitCode, observation.OomKilled));
        Assert.Contains("CrashLoopBackOff after 2 restarts", observation.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ImagePullBackOff", "image 'img:1' cannot be pulled")]
    [InlineData("ErrImagePull", "image 'img:1' cannot be pulled")]
    [InlineData("CreateContainerConfigError", "the container cannot be created")]
    public void Observe_GivesAClearDetail_WhenThePodCannotStart(string reason, string expected)
    {
        var observation = KubernetesPodStatus.Observe([Pod("a", "Pending", Waiting(reason, "rpc error"))], 1);

        Assert.Equal(WorkloadState.NotFound, observation.State);
        Assert.Contains(expected, observation.Detail, StringComparison.Ordinal);
        Assert.Contains($"({reason}): rpc error", observation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Observe_ReportsExited_WhenAPodFailed()
    {
        var pod = Pod("a", "Failed", new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 2, Reason = "Error" } });
        pod.Status.Reason = "Evicted";

        var observation = KubernetesPodStatus.Observe([pod], 1);

        Assert.Equal((WorkloadState.Exited, 2, false), (observation.State, observation.ExitCode, observation.OomKilled));
        Assert.Contains("pod a failed: Evicted", observation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Observe_SaysWhy_WhenAPodCannotBeScheduled()
    {
        var observation = KubernetesPodStatus.Observe(
            [Pod("a", "Pending", new V1ContainerState(), null, new V1PodCondition { Type = "PodScheduled", Status = "False", Reason = "Unschedulable", Message = "0/3 nodes are available" })],
            1);

        Assert.Equal(WorkloadState.Created, observation.State);
        Assert.Contains("cannot be scheduled (Unschedulable): 0/3 nodes are available", observation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Observe_IgnoresPodsBeingDeleted()
    {
        var leaving = Pod("a", "Running", Running);
        leaving.Metadata.DeletionTimestamp = DateTime.UtcNow;

        Assert.Equal(WorkloadState.Created, KubernetesPodStatus.Observe([leaving], 1).State);
    }

    [Fact]
    public void LogLineParse_KeepsNanosecondTimestampsToTheTick()
    {
        var line = KubernetesLogLine.Parse("2026-03-01T10:20:30.123456789Z hello world", DateTimeOffset.UnixEpoch);

        Assert.Equal(new DateTimeOffset(2026, 3, 1, 10, 20, 30, TimeSpan.Zero).AddTicks(1234567), line.Timestamp);
        Assert.Equal("hello world", line.Text);
        Assert.Equal(("no stamp", DateTimeOffset.UnixEpoch), (KubernetesLogLine.Parse("no stamp", DateTimeOffset.UnixEpoch).Text, KubernetesLogLine.Parse("no stamp", DateTimeOffset.UnixEpoch).Timestamp));
    }
}
