using MetaNode.Clusters;
using MetaNode.Orchestration;
using MetaNode.Placement;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using Orleans.Streams;

namespace MetaNode.Tests.Clusters;

/// <summary>The cluster grain, lease and orchestrator agents on a real silo with SQLite storage, running real processes.</summary>
[Collection(ClusterGrainCollection.Name)]
public sealed class ClusterGrainTests(ClusterGrainFixture fixture)
{
    private static string NewName(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..6];

    private IVPodClusterGrain Cluster(string name) => fixture.Grains.GetGrain<IVPodClusterGrain>(name);

    private static ClusterSpec Sleepers(string name, int count, VPodType type = VPodType.Compute, string cpu = "100m") => new()
    {
        Name = name,
        Count = count,
        MemberType = type,
        Command = ["/bin/sh", "-c", "exec sleep 600"],
        CpuMillis = ResourceQuantity.ParseCpu(cpu),
        MemoryBytes = 16L << 20,
    };

    private Task<ClusterStatus> WaitForAsync(string name, Func<ClusterStatus, bool> condition, string what, TimeSpan? timeout = null) =>
        Eventually.WaitAsync(() => Cluster(name).GetStatusAsync(), condition, $"cluster {name}: {what}", timeout);

    [Fact]
    public async Task DeployAsync_RunsMembersAndElectsOneLeader_WhenMembersAreOrchestrators()
    {
        var name = NewName("orch");
        var deployed = await Cluster(name).DeployAsync(Sleepers(name, 3, VPodType.Orchestrator));
        Assert.Equal(3, deployed.Desired);
        Assert.Equal(Enumerable.Range(0, 3).Select(i => $"vpod-{name}-{i}"), deployed.Members.Select(m => m.Id));

        var status = await WaitForAsync(name, s => s.Running == 3 && s.Leader is not null, "3 running members and a leader");
        Assert.Equal(ClusterPhase.Ready, status.Phase);
        Assert.True(status.Term >= 1, $"term {status.Term}");
        Assert.Single(status.Members, m => m.IsLeader);
        Assert.Contains(status.Leader, status.Members.Select(m => m.Id));
        Assert.All(status.Members, m => Assert.False(string.IsNullOrEmpty(m.Silo), $"{m.Id} has a recorded silo"));
        Assert.Contains(status.LeaderChanges, c => c.Leader == status.Leader && c.Term == status.Term);

        await Cluster(name).DeleteAsync();
    }

    [Fact]
    public async Task LeaderChanges_ArePublishedOnTheLeaderStream_WithTheirTerm()
    {
        var name = NewName("events");
        var received = new System.Collections.Concurrent.ConcurrentQueue<LeaderChange>();
        var stream = fixture.Cluster.Client.GetStreamProvider(MetaNode.Grains.Hosting.MetaNodeNames.StreamProvider)
            .GetStream<LeaderChange>(StreamId.Create(OrchestrationStreams.LeaderChanges, name));
        var subscription = await stream.SubscribeAsync((change, _) =>
        {
            received.Enqueue(change);
            return Task.CompletedTask;
        });

        await Cluster(name).DeployAsync(Sleepers(name, 2, VPodType.Orchestrator));
        var status = await WaitForAsync(name, s => s.Leader is not null, "a leader");
        var published = await Eventually.WaitAsync(() => Task.FromResult(received.ToArray()), r => r.Any(c => c.Term == status.Term), "the leader change on the stream");
        var change = published.Single(c => c.Term == status.Term && c.Leader is not null);
        Assert.Equal((name, status.Leader), (change.Scope, change.Leader));
        Assert.Equal($"{name}/{status.Term}/acquired", change.EventId);

        await subscription.UnsubscribeAsync();
        await Cluster(name).DeleteAsync();
    }

    [Fact]
    public async Task ReconcileAsync_RejectsTheOldTerm_AfterTheLeaderVPodStoppedAndAnotherTookOver()
    {
        var name = NewName("fail");
        await Cluster(name).DeployAsync(Sleepers(name, 3, VPodType.Orchestrator));
        var first = await WaitForAsync(name, s => s.Running == 3 && s.Leader is not null && s.FencingTerm == s.Term, "3 running members and a leader acting");

        await fixture.Grains.GetGrain<IVPodGrain>(first.Leader!).StopAsync(new StopOptions(Force: true));
        var second = await WaitForAsync(name, s => s.Leader is not null && s.Leader != first.Leader && s.FencingTerm > first.Term, "a new leader acting with a higher term");
        Assert.True(second.Term > first.Term, $"term {second.Term} after {first.Term}");

        // The stopped leader gave its lease up (the failover did not wait for it to expire), and the new leader took the next term.
        Assert.Contains(second.LeaderChanges, c => c.Leader is null && c.PreviousLeader == first.Leader && c.Term == first.Term);

        var error = await Assert.ThrowsAsync<StaleLeaderTermException>(() => Cluster(name).ReconcileAsync(new LeaderCommand(first.Leader!, first.Term)));
        Assert.Equal(first.Term, error.Term);
        Assert.True(error.CurrentTerm >= second.Term);

        // A higher term the lease never issued (a forged command) is rejected too, and the fence does not move.
        var fenceBefore = (await Cluster(name).GetStatusAsync()).FencingTerm;
        var forged = await Assert.ThrowsAsync<UnissuedLeaderTermException>(() => Cluster(name).ReconcileAsync(new LeaderCommand(second.Leader!, fenceBefore + 100)));
        Assert.Equal(fenceBefore + 100, forged.Term);
        await Assert.ThrowsAsync<UnissuedLeaderTermException>(() => Cluster(name).ReconcileAsync(new LeaderCommand("vpod-somebody-else", fenceBefore + 1)));
        Assert.Equal(fenceBefore, (await Cluster(name).GetStatusAsync()).FencingTerm);

        // The stopped orchestrator stays stopped (a user's stop is not a failure); the others keep running.
        var after = await Cluster(name).GetStatusAsync();
        Assert.Equal(VPodPhase.Stopped, after.Members.Single(m => m.Id == first.Leader).Phase);
        await Cluster(name).DeleteAsync();
    }

    [Fact]
    public async Task DeployAsync_CreatesEachMemberOnce_WhenRetried()
    {
        var name = NewName("idem");
        var spec = Sleepers(name, 2);
        await Cluster(name).DeployAsync(spec);
        var again = await Cluster(name).DeployAsync(spec with { Command = ["/bin/sh", "-c", "exec sleep 600"] });
        Assert.Equal(2, again.Members.Count);
        await WaitForAsync(name, s => s.Running == 2, "2 running members");

        var vpods = await fixture.Grains.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default).ListAsync();
        Assert.Equal(2, vpods.Count(v => v.Name.StartsWith(name + "-", StringComparison.Ordinal)));

        var error = await Assert.ThrowsAsync<InvalidClusterSpecException>(() => Cluster(name).DeployAsync(spec with { CpuMillis = 200 }));
        Assert.Contains("already exists with a different spec", error.Message, StringComparison.Ordinal);
        Assert.Equal(100, (await Cluster(name).GetStatusAsync()).Spec!.CpuMillis);

        var list = await fixture.Grains.GetGrain<IVPodClusterRegistryGrain>(ClusterRegistryKeys.Default).ListAsync();
        Assert.Single(list, c => c.Name == name);
        await Cluster(name).DeleteAsync();
    }

    [Fact]
    public async Task ScaleAsync_ConvergesUpAndDown_WithoutReusingOrdinals()
    {
        var name = NewName("scale");
        await Cluster(name).DeployAsync(Sleepers(name, 2));
        await Cluster(name).ScaleAsync(4);
        var up = await WaitForAsync(name, s => s.Running == 4, "4 running members");
        Assert.Equal(Enumerable.Range(0, 4).Select(i => $"vpod-{name}-{i}"), up.Members.Select(m => m.Id));

        var down = await Cluster(name).ScaleAsync(1);
        Assert.Equal(1, down.Desired);
        Assert.Equal([$"vpod-{name}-0"], down.Members.Select(m => m.Id));
        for (var i = 1; i < 4; i++)
        {
            Assert.Equal(VPodPhase.Deleted, (await fixture.Grains.GetGrain<IVPodGrain>($"vpod-{name}-{i}").GetStatusAsync()).Phase);
        }

        var upAgain = await Cluster(name).ScaleAsync(2);
        Assert.Equal([$"vpod-{name}-0", $"vpod-{name}-4"], upAgain.Members.Select(m => m.Id));
        await WaitForAsync(name, s => s.Running == 2 && s.Phase == ClusterPhase.Ready, "2 running members");

        await Assert.ThrowsAsync<InvalidClusterSpecException>(() => Cluster(name).ScaleAsync(-1));
        Assert.Equal(2, (await Cluster(name).GetStatusAsync()).Desired);
        await Cluster(name).DeleteAsync();
    }

    [Fact]
    public async Task DeleteAsync_DeletesEveryMember_AndForgetsTheCluster()
    {
        var name = NewName("del");
        await Cluster(name).DeployAsync(Sleepers(name, 2, VPodType.Orchestrator));
        await WaitForAsync(name, s => s.Running == 2 && s.Leader is not null, "2 running members and a leader");

        var deleted = await Cluster(name).DeleteAsync();
        Assert.Equal(ClusterPhase.Deleted, deleted.Phase);
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(VPodPhase.Deleted, (await fixture.Grains.GetGrain<IVPodGrain>($"vpod-{name}-{i}").GetStatusAsync()).Phase);
        }

        await Assert.ThrowsAsync<ClusterNotFoundException>(() => Cluster(name).GetStatusAsync());
        var list = await fixture.Grains.GetGrain<IVPodClusterRegistryGrain>(ClusterRegistryKeys.Default).ListAsync();
        Assert.DoesNotContain(list, c => c.Name == name);
        var reservations = await fixture.Grains.GetGrain<IPlacementLedgerGrain>(PlacementLedgerKeys.Default).ListAsync(null);
        Assert.DoesNotContain(reservations, r => r.Request.Cluster == name);
        await Assert.ThrowsAsync<ClusterNotFoundException>(() => Cluster(name).ScaleAsync(3));
    }

    [Theory]
    [InlineData(0, "count '0' is invalid")]
    [InlineData(501, "count '501' is invalid")]
    public async Task DeployAsync_RejectsABadSpec_AndChangesNothing(int count, string expected)
    {
        var name = NewName("bad");
        var error = await Assert.ThrowsAsync<InvalidClusterSpecException>(() => Cluster(name).DeployAsync(Sleepers(name, count)));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ClusterNotFoundException>(() => Cluster(name).GetStatusAsync());

        var threshold = await Assert.ThrowsAsync<InvalidClusterSpecException>(() => Cluster(name).DeployAsync(Sleepers(name, 3) with { Algorithm = AggregationAlgorithm.SecureAggregation, SecurityThreshold = 4 }));
        Assert.Contains("security threshold '4'", threshold.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ClusterNotFoundException>(() => Cluster(name).GetStatusAsync());
    }

    [Fact]
    public async Task DeployAndScale_RejectOverQuotaRequests_AndChangeNothing()
    {
        var name = NewName("quota");
        var quota = new ClusterQuota { CpuMillis = 300, MemoryBytes = 1L << 30, MaxMembers = 5 };
        var error = await Assert.ThrowsAsync<ClusterQuotaExceededException>(() => Cluster(name).DeployAsync(Sleepers(name, 4) with { Quota = quota }));
        Assert.Contains("exceeds the cpu quota 300m", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ClusterNotFoundException>(() => Cluster(name).GetStatusAsync());

        await Cluster(name).DeployAsync(Sleepers(name, 2) with { Quota = quota });
        var scale = await Assert.ThrowsAsync<ClusterQuotaExceededException>(() => Cluster(name).ScaleAsync(4));
        Assert.Contains("cluster '" + name + "' quota exceeded", scale.Message, StringComparison.Ordinal);
        var status = await Cluster(name).GetStatusAsync();
        Assert.Equal(2, status.Desired);
        Assert.Equal(2, status.Members.Count);
        await Cluster(name).DeleteAsync();
    }

    [Fact]
    public async Task AVPodCreatedWithoutASizeOrWithAFalseOne_ReservesWhatItsSpecAsks_AndFreesItWhenDeleted()
    {
        var ledger = fixture.Grains.GetGrain<IPlacementLedgerGrain>(PlacementLedgerKeys.Default);
        var silo = (await ledger.GetUsageAsync()).Single().Silo;
        VPodSpec Sleeper(string name, long cpuMillis, long memoryBytes) => new() { Name = name, Command = ["/bin/sh", "-c", "exec sleep 600"], CpuMillis = cpuMillis, MemoryBytes = memoryBytes };

        // A creator that passes no size (an older client, or a call straight to the grain): placement saw none, the ledger records the spec's.
        var plain = MetaNode.Client.VPodIds.NewId();
        await fixture.Grains.GetGrain<IVPodGrain>(plain).CreateAsync(Sleeper(NewName("plain"), 150, 24L << 20));
        var reserved = await ledger.GetAsync(plain);
        Assert.Equal((150L, 24L << 20, silo, false), (reserved!.Request.CpuMillis, reserved.Request.MemoryBytes, reserved.Silo, reserved.Overcommitted));

        // A client that claims 1 millicore and 1 byte for a vPod whose spec asks for more memory than the silo offers (4 GiB):
        // placed on that claim, but reserved as the spec asks, and marked overcommitted.
        var lying = MetaNode.Client.VPodIds.NewId();
        RequestContext.Set(PlacementLedgerKeys.RequestContextKey, new PlacementRequest { VPodId = lying, CpuMillis = 1, MemoryBytes = 1 });
        try
        {
            await fixture.Grains.GetGrain<IVPodGrain>(lying).CreateAsync(Sleeper(NewName("lying"), 100, 5L << 30));
        }
        finally
        {
            RequestContext.Remove(PlacementLedgerKeys.RequestContextKey);
        }

        reserved = await ledger.GetAsync(lying);
        Assert.Equal((100L, 5L << 30, true), (reserved!.Request.CpuMillis, reserved.Request.MemoryBytes, reserved.Overcommitted));

        // Deleting a vPod frees its reservation at once.
        foreach (var id in new[] { plain, lying })
        {
            await fixture.Grains.GetGrain<IVPodGrain>(id).DeleteAsync(new StopOptions(Force: true));
            Assert.Null(await ledger.GetAsync(id));
        }
    }

    [Fact]
    public async Task DeployAsync_LeavesMembersPendingWithAReason_WhenTheyFitOnNoSilo()
    {
        var name = NewName("big");
        var status = await Cluster(name).DeployAsync(Sleepers(name, 2, cpu: "3"));
        Assert.Equal(ClusterPhase.Degraded, status.Phase);
        var placed = status.Members.Where(m => m.Phase != VPodPhase.Pending || m.Reason?.Contains("no silo has room", StringComparison.Ordinal) != true).ToList();
        var pending = status.Members.Where(m => m.Phase == VPodPhase.Pending && m.Reason?.Contains("no silo has room for cpu 3", StringComparison.Ordinal) == true).ToList();
        Assert.Single(placed);
        Assert.Single(pending);
        await Assert.ThrowsAsync<VPodNotFoundException>(() => fixture.Grains.GetGrain<IVPodGrain>(pending[0].Id).GetStatusAsync());

        // Scaling down drops the member that was never placed first.
        var scaled = await Cluster(name).ScaleAsync(1);
        Assert.Equal([placed[0].Id], scaled.Members.Select(m => m.Id));
        var deleted = await Cluster(name).DeleteAsync();
        Assert.Equal(ClusterPhase.Deleted, deleted.Phase);
    }
}
