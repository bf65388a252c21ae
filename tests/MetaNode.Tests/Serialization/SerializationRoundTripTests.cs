using MetaNode.Grains.VPods;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;

namespace MetaNode.Tests.Serialization;

/// <summary>Every type that is persisted or crosses a grain call survives Orleans serialization and deep copy unchanged.</summary>
public sealed class SerializationRoundTripTests
{
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

    private static T RoundTrip<T>(T value) => OrleansRoundTrip.Of(value);

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

    [Fact]
    public void ChainContracts_RoundTrip()
    {
        var round = new MetaNode.Chain.RoundResult { JobId = "job-1", Round = 3, ResultHash = "0x" + new string('1', 64), ReceiptsRoot = "0x" + new string('2', 64), ModelRef = "0x" + new string('3', 64), ModelCid = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku" };
        Assert.Equal(round, RoundTrip(round));
        Assert.Equal("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", RoundTrip(round).ModelCid);
        var record = new MetaNode.Chain.RoundRecord { JobId = "job-1", Round = 3, Finalized = true, BlockNumber = 9, TransactionHash = "0xab", ResultHash = round.ResultHash, Commitment = "0xcd", Verified = true, Registry = "0xef", Matches = true, ModelCid = round.ModelCid };
        Assert.Equal(record, RoundTrip(record));
        var result = RoundTrip(new MetaNode.Chain.FinalizationResult { Outcome = MetaNode.Chain.FinalizationOutcome.AlreadyFinalized, Record = record, Signers = ["0x1", "0x2"], GasUsed = 65_000, Latency = TimeSpan.FromMilliseconds(40) });
        Assert.Equal((MetaNode.Chain.FinalizationOutcome.AlreadyFinalized, record, 65_000L), (result.Outcome, result.Record, result.GasUsed!.Value));
        Assert.Equal(["0x1", "0x2"], result.Signers);
        var status = RoundTrip(new MetaNode.Chain.ChainStatus { Enabled = true, RpcUrl = "http://127.0.0.1:8545", ChainId = 31337, Registry = "0xef", Threshold = 2, Validators = ["0x1", "0x2", "0x3"], SetId = 1, LastBlock = 12, DevChain = true });
        Assert.Equal((31337L, 2, 12L, true), (status.ChainId, status.Threshold, status.LastBlock, status.DevChain));
        Assert.Equal(["0x1", "0x2", "0x3"], status.Validators);
        var evt = new MetaNode.Chain.RoundFinalizedEvent { EventId = "0xab:0", Registry = "0xef", JobId = "job-1", Round = 3, ResultHash = "0x1", ReceiptsRoot = "0x2", ModelRef = "0x3", BlockNumber = 9, BlockHash = "0xbb", TransactionHash = "0xab", LogIndex = 0, ModelCid = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku" };
        Assert.Equal(evt, RoundTrip(evt));
        Assert.Equal("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", RoundTrip(evt).ModelCid);
        var signature = new MetaNode.Chain.ValidatorSignature("0x1", "0x" + new string('f', 130), "vpod-1");
        Assert.Equal(signature, RoundTrip(signature));
        var exception = RoundTrip(new MetaNode.Chain.ChainRevertException("finalizeRound", "NotAValidator(index=0)"));
        Assert.Equal("NotAValidator(index=0)", exception.Reason);
    }

    [Fact]
    public void ChainState_RoundTrips()
    {
        var state = new MetaNode.Grains.Chain.ChainAccountState { NextNonce = 7, Submitted = 3, Confirmed = 2, GasUsed = 130_000, LastBlockSeen = 40 };
        state.Pending["finalize:x"] = new MetaNode.Grains.Chain.PendingTransaction { Operation = "finalize:x", Nonce = 6, Data = "0x01", GasLimit = 90_000, MaxFeePerGas = "2000000000", MaxPriorityFeePerGas = "1000000000", Hashes = ["0xa", "0xb"], RawTransaction = "0x02", Replacements = 1, FirstSentAt = At, LastSentAt = At };
        var back = RoundTrip(state);
        Assert.Equal((7L, 3L, 2L, 130_000L, 40L), (back.NextNonce, back.Submitted, back.Confirmed, back.GasUsed, back.LastBlockSeen!.Value));
        var pending = back.Pending["finalize:x"];
        Assert.Equal(["0xa", "0xb"], pending.Hashes);
        Assert.Equal(("2000000000", 1, At), (pending.MaxFeePerGas, pending.Replacements, pending.FirstSentAt));
        var watcher = RoundTrip(new MetaNode.Grains.Chain.ChainWatcherState
        {
            Registry = "0xef",
            Checkpoint = 12,
            CheckpointHash = "0xbb",
            EventsPublished = 4,
            History = [new() { Number = 11, Hash = "0xaa" }, new() { Number = 12, Hash = "0xbb" }],
            Recent = [new() { EventId = "0xt:0", Registry = "0xef", JobId = "job", Round = 3, ResultHash = "0x1", ReceiptsRoot = "0x2", ModelRef = "0x3", BlockNumber = 12, BlockHash = "0xbb", TransactionHash = "0xt", LogIndex = 0, Removed = true, ModelCid = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku" }],
            EventsRetracted = 2,
        });
        Assert.Equal((12L, "0xbb", 4L, 2L), (watcher.Checkpoint, watcher.CheckpointHash, watcher.EventsPublished, watcher.EventsRetracted));
        Assert.Equal(("0xt:0", 12L, "0xbb", true, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"), (watcher.Recent[0].EventId, watcher.Recent[0].BlockNumber, watcher.Recent[0].BlockHash, watcher.Recent[0].Removed, watcher.Recent[0].ModelCid));
        Assert.Equal([new() { Number = 11, Hash = "0xaa" }, new MetaNode.Grains.Chain.WatchedBlock { Number = 12, Hash = "0xbb" }], watcher.History);
    }
}
