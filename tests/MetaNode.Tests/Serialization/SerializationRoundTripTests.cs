using MetaNode.Grains.VPods;
using MetaNode.VPods;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace MetaNode.Tests.Serialization;

/// <summary>Every type that is persisted or crosses a grain call survives Orleans serialization and deep copy unchanged.</summary>
public sealed class SerializationRoundTripTests
{
    private static readonly IServiceProvider Services = new ServiceCollection()
        .AddSerializer(b => b.AddAssembly(typeof(VPodSpec).Assembly).AddAssembly(typeof(VPodState).Assembly))
        .BuildServiceProvider();

    private static readonly DateTimeOffset At = new(2026, 11, 29, 23, 59, 1, TimeSpan.Zero);

    private static readonly VPodSpec Spec = new()
    {
        Name = "worker-1",
        Type = VPodType.Validator,
        DeploymentMethod = DeploymentMethod.Process,
        Image = "/usr/bin/env",
        Command = ["sh", "-c", "echo hi"],
        CpuMillis = 500,
        MemoryBytes = 256L << 20,
        Ports = [8081, 9000],
        Env = new Dictionary<string, string> { ["A"] = "1" },
        Volumes = [new VolumeMount("/src", "/dst", ReadOnly: true)],
        Labels = new Dictionary<string, string> { ["team"] = "ml" },
        RestartPolicy = RestartPolicy.Always,
    };

    private static readonly RuntimeHandle Handle = new(DeploymentMethod.Process, "1234", "node-a", At, "owner-1", 987654, "http://127.0.0.1:8081");

    private static T RoundTrip<T>(T value)
    {
        var serializer = Services.GetRequiredService<Serializer>();
        var copier = Services.GetRequiredService<DeepCopier>();
        var bytes = serializer.SerializeToArray(value);
        var copy = copier.Copy(value);
        Assert.NotNull(copy);
        return serializer.Deserialize<T>(bytes)!;
    }

    [Fact]
    public void VPodSpec_RoundTrips()
    {
        var back = RoundTrip(Spec);
        Assert.Equal(Spec.Name, back.Name);
        Assert.Equal(Spec.Command, back.Command);
        Assert.Equal(Spec.Ports, back.Ports);
        Assert.Equal(Spec.Env, back.Env);
        Assert.Equal(Spec.Volumes, back.Volumes);
        Assert.Equal(Spec.Labels, back.Labels);
        Assert.Equal((Spec.Type, Spec.CpuMillis, Spec.MemoryBytes, Spec.RestartPolicy, Spec.Image), (back.Type, back.CpuMillis, back.MemoryBytes, back.RestartPolicy, back.Image));
    }

    [Fact]
    public void RuntimeHandle_And_Transition_RoundTrip()
    {
        Assert.Equal(Handle, RoundTrip(Handle));
        var transition = new VPodTransition(VPodPhase.Running, VPodPhase.Failed, VPodTrigger.Exited, "exit 3", At);
        Assert.Equal(transition, RoundTrip(transition));
    }

    [Fact]
    public void VPodStatus_RoundTrips()
    {
        var status = new VPodStatus
        {
            Id = "vpod-abc", Name = "w", Type = VPodType.Storage, DeploymentMethod = DeploymentMethod.Process, Phase = VPodPhase.Degraded,
            Health = VPodHealth.Degraded, RestartCount = 3, Handle = Handle, CreatedAt = At, StartedAt = At, UpdatedAt = At,
            LastExitCode = 3, Reason = "probe failed", Transitions = [new(VPodPhase.Running, VPodPhase.Degraded, VPodTrigger.ProbeDegraded, "x", At)],
            Endpoint = "http://127.0.0.1:1", Spec = Spec, NextRestartAt = At,
        };
        var back = RoundTrip(status);
        Assert.Equal((status.Id, status.Phase, status.Health, status.RestartCount, status.Handle, status.LastExitCode, status.Reason, status.NextRestartAt),
            (back.Id, back.Phase, back.Health, back.RestartCount, back.Handle, back.LastExitCode, back.Reason, back.NextRestartAt));
        Assert.Equal(status.Transitions, back.Transitions);
        Assert.Equal(Spec.Name, back.Spec!.Name);
    }

    [Fact]
    public void Summary_Metrics_Logs_StopOptions_RoundTrip()
    {
        var summary = new VPodSummary { Id = "vpod-1", Name = "n", Phase = VPodPhase.Running, ShouldRun = true, CreatedAt = At, UpdatedAt = At, RestartCount = 2 };
        Assert.Equal(summary, RoundTrip(summary));
        var metrics = new VPodMetrics
        {
            Id = "vpod-1", Phase = VPodPhase.Running, Resources = new(12.5, 1000, 2000), Network = new(5, 6),
            Blockchain = new BlockchainUsage { Address = "0xabc", TransactionsSubmitted = 2, TransactionsConfirmed = 1, GasUsed = 21000, LastBlockSeen = 7, RpcLatencyMs = 1.5 },
            CollectedAt = At,
        };
        Assert.Equal(metrics, RoundTrip(metrics));
        var line = new LogLine(At, LogStream.Stderr, "oops");
        Assert.Equal(line, RoundTrip(line));
        Assert.Equal(new LogQuery(10, At), RoundTrip(new LogQuery(10, At)));
        Assert.Equal(new StopOptions(true, 3), RoundTrip(new StopOptions(true, 3)));
    }

    [Fact]
    public void PersistedGrainState_RoundTrips()
    {
        var state = new VPodState
        {
            Spec = Spec, Phase = VPodPhase.Running, Health = VPodHealth.Healthy, Handle = Handle, RestartCount = 4, ConsecutiveFailures = 2,
            CreatedAt = At, StartedAt = At, UpdatedAt = At, LastExitCode = 1, Reason = "r", DesiredRunning = true, NextRestartAt = At,
            Interrupted = true, Provisioned = true, OomKilled = true, Transitions = [new(VPodPhase.None, VPodPhase.Pending, VPodTrigger.Create, "created", At)],
        };
        var back = RoundTrip(state);
        Assert.Equal((state.Phase, state.Health, state.Handle, state.RestartCount, state.ConsecutiveFailures, state.DesiredRunning, state.NextRestartAt, state.Interrupted, state.Provisioned),
            (back.Phase, back.Health, back.Handle, back.RestartCount, back.ConsecutiveFailures, back.DesiredRunning, back.NextRestartAt, back.Interrupted, back.Provisioned));
        Assert.Equal(state.Transitions, back.Transitions);
        Assert.True(back.OomKilled);

        var registry = new VPodRegistryState();
        registry.Entries["vpod-1"] = new VPodSummary { Id = "vpod-1", Name = "n" };
        registry.Names["n"] = "vpod-1";
        var registryBack = RoundTrip(registry);
        Assert.Equal(registry.Entries["vpod-1"], registryBack.Entries["vpod-1"]);
        Assert.Equal("vpod-1", registryBack.Names["n"]);
    }

    [Fact]
    public void Exceptions_RoundTrip_WithTheirDetails()
    {
        var invalid = RoundTrip(new InvalidVPodOperationException("vpod-1", VPodTrigger.Start, VPodPhase.Deleted));
        Assert.Equal(("vpod-1", VPodTrigger.Start, VPodPhase.Deleted), (invalid.VPodId, invalid.Operation, invalid.Phase));
        Assert.Equal("vPod 'vpod-1' cannot start while Deleted.", invalid.Message);
        var missing = RoundTrip(new VPodNotFoundException("vpod-2"));
        Assert.Equal("vpod-2", missing.VPodId);
        Assert.Contains("vpod-2", missing.Message, StringComparison.Ordinal);
        Assert.Equal("bad spec", RoundTrip(new InvalidVPodSpecException("bad spec")).Message);
    }
}
