using System.Net;
using MetaNode.Clusters;
using MetaNode.Grains.Clusters;
using MetaNode.Grains.Orchestration;
using MetaNode.Grains.Placement;
using MetaNode.Orchestration;
using MetaNode.Placement;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;

namespace MetaNode.Tests.Clusters;

/// <summary>Every cluster, lease and placement type that is persisted or crosses a grain call round-trips; options name bad keys.</summary>
public sealed class ClusterContractTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 30, 1, 2, 3, TimeSpan.Zero);

    private static T RoundTrip<T>(T value) => OrleansRoundTrip.Of(value);

    private static readonly ClusterSpec Spec = new()
    {
        Name = "c1",
        Count = 3,
        MemberType = VPodType.Orchestrator,
        Command = ["sleep", "1"],
        Env = new Dictionary<string, string> { ["A"] = "1" },
        PersistentStorage = new StorageRequest(1L << 30, "fast"),
        NetworkPolicy = new NetworkPolicySpec { EgressTo = ["10.0.0.0/8"] },
        Algorithm = AggregationAlgorithm.SecureAggregation,
        SecurityThreshold = 2,
        EncryptionEnabled = true,
        Quota = new ClusterQuota { CpuMillis = 3000, MaxMembers = 5 },
    };

    [Fact]
    public void ClusterStatusAndState_RoundTrip()
    {
        var change = new LeaderChange { EventId = "c1/2/acquired", Scope = "c1", Leader = "vpod-c1-1", PreviousLeader = "vpod-c1-0", Term = 2, At = At, Reason = "expired" };
        var status = RoundTrip(new ClusterStatus
        {
            Name = "c1",
            Phase = ClusterPhase.Ready,
            Spec = Spec,
            Desired = 3,
            Running = 3,
            Members = [new ClusterMemberStatus { Id = "vpod-c1-1", Name = "c1-1", Ordinal = 1, Phase = VPodPhase.Running, IsLeader = true, Silo = "S127.0.0.1:1:1" }],
            Leader = "vpod-c1-1",
            Term = 2,
            LeaderChanges = [change],
            FencingTerm = 2,
        });
        Assert.Equal(("vpod-c1-1", 2L, ClusterPhase.Ready), (status.Leader, status.Term, status.Phase));
        Assert.Equal(change, status.LeaderChanges.Single());
        Assert.True(status.Members.Single().IsLeader);
        Assert.Equal(Spec.Command, status.Spec!.Command);
        Assert.Equal(Spec.Quota, status.Spec.Quota);

        var state = RoundTrip(new VPodClusterState { Spec = Spec, Phase = ClusterPhase.Deploying, Desired = 3, NextOrdinal = 4, FencingTerm = 7, Members = [new ClusterMemberRecord { Ordinal = 3, PendingReason = "no room" }] });
        Assert.Equal((3, 4, 7L, "no room"), (state.Desired, state.NextOrdinal, state.FencingTerm, state.Members.Single().PendingReason));
        Assert.Equal(2, RoundTrip(new LeaderCommand("vpod-c1-1", 2)).Term);
    }

    [Fact]
    public void LeaseAndLedgerState_RoundTrip()
    {
        var lease = RoundTrip(new LeaderLeaseState { Lease = new LeaseSnapshot { Holder = "vpod-a", Term = 9, ExpiresAt = At, AcquiredAt = At, Ttl = TimeSpan.FromSeconds(5) } });
        Assert.Equal(("vpod-a", 9L, At), (lease.Lease.Holder, lease.Lease.Term, lease.Lease.ExpiresAt));

        var silo = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 5);
        var ledger = RoundTrip(new PlacementLedgerState
        {
            Reservations = { ["vpod-a"] = new Reservation { Request = new PlacementRequest { VPodId = "vpod-a", CpuMillis = 100, Cluster = "c1", Type = VPodType.Orchestrator }, Silo = silo, PlacedAt = At } },
            Capacities = { [silo] = new SiloCapacity(4000, 1L << 30) },
        });
        Assert.Equal(silo, ledger.Reservations["vpod-a"].Silo);
        Assert.Equal(new SiloCapacity(4000, 1L << 30), ledger.Capacities[silo]);
    }

    [Fact]
    public void Exceptions_RoundTripWithTheirFields()
    {
        var stale = RoundTrip(new StaleLeaderTermException("cluster c1", 3, 4));
        Assert.Equal((3L, 4L), (stale.Term, stale.CurrentTerm));
        Assert.Contains("term 4 is current", stale.Message, StringComparison.Ordinal);
        Assert.Equal("c1", RoundTrip(new ClusterQuotaExceededException("c1", "too much")).Cluster);
        Assert.Equal("c1", RoundTrip(new ClusterNotFoundException("c1")).Cluster);
    }

    [Fact]
    public void OrchestrationOptions_ReportEveryBadKey()
    {
        var result = new OrchestrationOptionsValidator().Validate(null, new OrchestrationOptions { LeaseTtl = TimeSpan.FromSeconds(1), RenewalPeriod = TimeSpan.FromSeconds(1), HistoryLength = 0 });
        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains("MetaNode:Orchestration:RenewalPeriod", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.Contains("MetaNode:Orchestration:HistoryLength", StringComparison.Ordinal));
        Assert.True(new OrchestrationOptionsValidator().Validate(null, new OrchestrationOptions()).Succeeded);
    }

    [Fact]
    public void SiloCapacityOptions_NameTheKeyAndValue_AndDefaultToTheMachine()
    {
        var result = new SiloCapacityOptionsValidator().Validate(null, new SiloCapacityOptions { Cpu = "lots", Memory = "8Gi" });
        Assert.Contains(result.Failures!, f => f.Contains("MetaNode:Capacity:Cpu", StringComparison.Ordinal) && f.Contains("'lots'", StringComparison.Ordinal));
        Assert.Equal(new SiloCapacity(2500, 8L << 30), new SiloCapacityOptions { Cpu = "2.5", Memory = "8Gi" }.ToCapacity());
        Assert.Equal(Environment.ProcessorCount * 1000L, new SiloCapacityOptions().ToCapacity().CpuMillis);
    }
}
