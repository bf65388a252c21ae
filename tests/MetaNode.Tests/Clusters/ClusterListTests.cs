using MetaNode.Clusters;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using Orleans.Core.Internal;

namespace MetaNode.Tests.Clusters;

/// <summary>
/// <c>cluster list</c> is one call to the cluster registry, which lists each cluster as the cluster last reported itself: a
/// member's change reaches the list without anyone asking the cluster, and a registry that lost its reports asks once.
/// </summary>
[Collection(ClusterGrainCollection.Name)]
public sealed class ClusterListTests(ClusterGrainFixture fixture)
{
    private static string NewName(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..6];

    private IVPodClusterGrain Cluster(string name) => fixture.Grains.GetGrain<IVPodClusterGrain>(name);

    private IVPodClusterRegistryGrain Registry => fixture.Grains.GetGrain<IVPodClusterRegistryGrain>(ClusterRegistryKeys.Default);

    private static ClusterSpec Sleepers(string name, int count) => new()
    {
        Name = name,
        Count = count,
        MemberType = VPodType.Compute,
        Command = ["/bin/sh", "-c", "exec sleep 600"],
        CpuMillis = 100,
        MemoryBytes = 16L << 20,
    };

    private Task<ClusterSummary?> ListedAsync(string name, Func<ClusterSummary?, bool> condition, string what) =>
        Eventually.WaitAsync(async () => (await Registry.ListAsync()).SingleOrDefault(c => c.Name == name), condition, $"cluster list row of {name}: {what}");

    [Fact]
    public async Task List_FollowsAMemberStoppedAndStartedAgain_WithoutTheClusterBeingAsked()
    {
        var name = NewName("list");
        await Cluster(name).DeployAsync(Sleepers(name, 2));
        await Eventually.WaitAsync(() => Cluster(name).GetStatusAsync(), s => s.Phase == ClusterPhase.Ready, $"cluster {name} ready");
        var ready = await ListedAsync(name, c => c?.Phase == ClusterPhase.Ready, "Ready");
        Assert.Equal((2, VPodType.Compute, DeploymentMethod.Process), (ready!.Desired, ready.MemberType, ready.DeploymentMethod));

        // From here on only the member's vPod is called: the cluster learns of its change and reports it to the registry.
        var member = fixture.Grains.GetGrain<IVPodGrain>(ClusterSpecValidation.MemberId(name, 1));
        await member.StopAsync(new StopOptions(Force: true));
        var stopped = await ListedAsync(name, c => c?.Phase == ClusterPhase.Deploying, "Deploying with a member stopped");
        Assert.Equal((2, ready.CreatedAt), (stopped!.Desired, stopped.CreatedAt));

        await member.StartAsync();
        await ListedAsync(name, c => c?.Phase == ClusterPhase.Ready, "Ready again once the member runs");

        var status = await Cluster(name).GetStatusAsync();
        Assert.Equal((ClusterPhase.Ready, 2), (status.Phase, status.Running));
        await Cluster(name).DeleteAsync();
        Assert.DoesNotContain(await Registry.ListAsync(), c => c.Name == name);
    }

    [Fact]
    public async Task List_AsksAClusterOnce_WhenTheRegistryLostItsReport()
    {
        var name = NewName("again");
        await Cluster(name).DeployAsync(Sleepers(name, 2));
        await Eventually.WaitAsync(() => Cluster(name).GetStatusAsync(), s => s.Phase == ClusterPhase.Ready, $"cluster {name} ready");

        // As after a silo restart: neither the registry nor the cluster keeps what it had in memory.
        await Registry.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        await Cluster(name).Cast<IGrainManagementExtension>().DeactivateOnIdle();

        var listed = Assert.Single(await Registry.ListAsync(), c => c.Name == name);
        Assert.Equal((ClusterPhase.Ready, 2, VPodType.Compute), (listed.Phase, listed.Desired, listed.MemberType));

        var scaled = await Cluster(name).ScaleAsync(1);
        Assert.Equal(1, scaled.Desired);
        var one = Assert.Single(await Registry.ListAsync(), c => c.Name == name);
        Assert.Equal((scaled.Phase, 1), (one.Phase, one.Desired));
        await Cluster(name).DeleteAsync();
    }

    [Theory]
    [InlineData("vpod-c1-0", "c1-0", "c1")]
    [InlineData("vpod-my-cluster-12", "my-cluster-12", "my-cluster")]
    [InlineData("vpod-1a2b3c4d", "web", null)]
    [InlineData("vpod-c1-0", "c2-0", null)]
    [InlineData("vpod-c1-01", "c1-01", null)]
    [InlineData("vpod-c1-x", "c1-x", null)]
    public void ClusterOf_FindsTheClusterOfAMember_FromItsIdAndName(string id, string vpodName, string? expected) =>
        Assert.Equal(expected, MetaNode.Grains.Clusters.ClusterSummaries.ClusterOf(id, vpodName));

    [Fact]
    public void PhaseOf_MatchesWhatClusterStatusShows()
    {
        Assert.Equal(ClusterPhase.Ready, MetaNode.Grains.Clusters.ClusterSummaries.PhaseOf(ClusterPhase.Deploying, 2, [VPodPhase.Running, VPodPhase.Running], 0));
        Assert.Equal(ClusterPhase.Deploying, MetaNode.Grains.Clusters.ClusterSummaries.PhaseOf(ClusterPhase.Deploying, 2, [VPodPhase.Running, VPodPhase.Stopped], 0));
        Assert.Equal(ClusterPhase.Degraded, MetaNode.Grains.Clusters.ClusterSummaries.PhaseOf(ClusterPhase.Deploying, 2, [VPodPhase.Running, VPodPhase.Failed], 0));
        Assert.Equal(ClusterPhase.Degraded, MetaNode.Grains.Clusters.ClusterSummaries.PhaseOf(ClusterPhase.Deploying, 2, [VPodPhase.Running, VPodPhase.Pending], 1));
        Assert.Equal(ClusterPhase.Deleting, MetaNode.Grains.Clusters.ClusterSummaries.PhaseOf(ClusterPhase.Deleting, 2, [VPodPhase.Running, VPodPhase.Running], 0));
    }
}
