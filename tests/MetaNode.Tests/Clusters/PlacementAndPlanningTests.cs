using System.Net;
using MetaNode.Clusters;
using MetaNode.Grains.Clusters;
using MetaNode.Grains.Placement;
using MetaNode.Placement;
using MetaNode.VPods;

namespace MetaNode.Tests.Clusters;

/// <summary>Placement decisions, cluster reconciliation plans and cluster validation as pure functions.</summary>
public sealed class PlacementAndPlanningTests
{
    private static readonly SiloAddress A = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 1);
    private static readonly SiloAddress B = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11112), 1);
    private static readonly SiloAddress C = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11113), 1);
    private static readonly SiloCapacity FourCores = new(4000, 4L << 30);

    private static PlacementRequest Request(string id, long cpu = 1000, string? cluster = null, bool spread = false) =>
        new() { VPodId = id, CpuMillis = cpu, MemoryBytes = 256L << 20, Cluster = cluster, Spread = spread };

    private static Reservation On(SiloAddress silo, PlacementRequest request) => new() { Request = request, Silo = silo };

    private static IReadOnlyList<SiloUsage> Usage(IReadOnlyList<Reservation> reservations, params SiloAddress[] silos) =>
        PlacementDecision.Usage(silos, _ => FourCores, reservations);

    [Fact]
    public void Choose_PicksTheLeastLoadedSiloWhereItFits()
    {
        Reservation[] reservations = [On(A, Request("vpod-1", 3000)), On(B, Request("vpod-2", 1000))];
        Assert.Equal(B, PlacementDecision.Choose(Request("vpod-3", 1000), Usage(reservations, A, B), reservations));
        Assert.Equal(B, PlacementDecision.Choose(Request("vpod-3", 2000), Usage(reservations, A, B), reservations));
    }

    [Fact]
    public void Choose_SpreadsVPodsThatAskForNoResources_AcrossSilos()
    {
        // A vPod created without a size in the placement request reserves nothing, so every silo's load stays at zero.
        var reservations = new List<Reservation>();
        for (var i = 0; i < 9; i++)
        {
            var request = new PlacementRequest { VPodId = $"vpod-{i}" };
            var silo = PlacementDecision.Choose(request, Usage(reservations, A, B, C), reservations);
            Assert.NotNull(silo);
            reservations.Add(On(silo, request));
        }

        Assert.Equal([3, 3, 3], new[] { A, B, C }.Select(s => reservations.Count(r => r.Silo.Equals(s))));
    }

    [Fact]
    public void LeastLoaded_PrefersTheSiloWithFewerVPods_WhenLoadsAreEqual()
    {
        Reservation[] reservations = [On(A, new PlacementRequest { VPodId = "vpod-1" }), On(A, new PlacementRequest { VPodId = "vpod-2" }), On(B, new PlacementRequest { VPodId = "vpod-3" })];
        Assert.Equal(B, PlacementDecision.LeastLoaded(Usage(reservations, A, B)));
    }

    [Fact]
    public void Choose_ReturnsNull_WhenTheVPodFitsNowhere()
    {
        Reservation[] reservations = [On(A, Request("vpod-1", 3500)), On(B, Request("vpod-2", 3500))];
        var usage = Usage(reservations, A, B);
        Assert.Null(PlacementDecision.Choose(Request("vpod-3", 1000), usage, reservations));
        Assert.Contains("no silo has room for cpu 1", PlacementDecision.NoFitReason(Request("vpod-3", 1000), usage), StringComparison.Ordinal);
    }

    [Fact]
    public void Choose_SpreadsAClustersMembersAcrossSilos_WhenHighAvailabilityIsOn()
    {
        // A is the least loaded, but already holds a member of the cluster.
        Reservation[] reservations = [On(A, Request("vpod-c-0", 100, "c", spread: true)), On(B, Request("vpod-x", 1500)), On(C, Request("vpod-y", 1500))];
        var usage = Usage(reservations, A, B, C);
        Assert.NotEqual(A, PlacementDecision.Choose(Request("vpod-c-1", 100, "c", spread: true), usage, reservations));
        Assert.Equal(A, PlacementDecision.Choose(Request("vpod-c-1", 100, "c", spread: false), usage, reservations));
    }

    [Fact]
    public void CheckFit_CountsEarlierRequestsOfTheSameBatch()
    {
        var fit = PlacementDecision.CheckFit([Request("vpod-1", 3000), Request("vpod-2", 3000), Request("vpod-3", 3000)], Usage([], A, B), []);
        Assert.Equal([null, null], fit.Take(2));
        Assert.NotNull(fit[2]);
    }

    [Fact]
    public void Plan_CreatesMissingMembers_WithFreshOrdinals()
    {
        var plan = ClusterPlanner.Plan(3, [new MemberObservation(0, true, VPodPhase.Running, false)], RestartPolicy.OnFailure, nextOrdinal: 5);
        Assert.Equal([(MemberAction.Create, 5), (MemberAction.Create, 6)], plan.Select(a => (a.Action, a.Ordinal)));
    }

    [Fact]
    public void Plan_DeletesTheNewestMembers_WhenScaledDown()
    {
        MemberObservation[] members = [new(0, true, VPodPhase.Running, false), new(1, true, VPodPhase.Running, false), new(2, true, VPodPhase.Running, false)];
        var plan = ClusterPlanner.Plan(1, members, RestartPolicy.OnFailure, 3);
        Assert.Equal([(MemberAction.Delete, 2), (MemberAction.Delete, 1)], plan.Select(a => (a.Action, a.Ordinal)));
    }

    [Fact]
    public void Plan_ReplacesVanishedMembers_AndRestartsFailedOnesWithinTheirPolicy()
    {
        MemberObservation[] members =
        [
            new(0, true, null, false),
            new(1, true, VPodPhase.Failed, false),
            new(2, true, VPodPhase.Failed, true),
            new(3, false, null, false),
        ];
        var plan = ClusterPlanner.Plan(4, members, RestartPolicy.OnFailure, 4);
        Assert.Contains(plan, a => a is { Action: MemberAction.Forget, Ordinal: 0 });
        Assert.Contains(plan, a => a is { Action: MemberAction.Create, Ordinal: 4 });
        Assert.Contains(plan, a => a is { Action: MemberAction.Start, Ordinal: 1 });
        Assert.Contains(plan, a => a is { Action: MemberAction.Create, Ordinal: 3 });
        Assert.DoesNotContain(plan, a => a.Ordinal == 2);

        var never = ClusterPlanner.Plan(4, members, RestartPolicy.Never, 4);
        Assert.DoesNotContain(never, a => a.Action == MemberAction.Start);

        MemberObservation[] stopped = [new(0, true, VPodPhase.Stopped, false)];
        Assert.Empty(ClusterPlanner.Plan(1, stopped, RestartPolicy.OnFailure, 1));
        Assert.Equal([(MemberAction.Start, 0)], ClusterPlanner.Plan(1, stopped, RestartPolicy.Always, 1).Select(a => (a.Action, a.Ordinal)));
    }

    [Fact]
    public void Plan_DoesNothing_WhenEveryMemberRuns()
    {
        MemberObservation[] members = [new(0, true, VPodPhase.Running, false), new(1, true, VPodPhase.Starting, false)];
        Assert.Empty(ClusterPlanner.Plan(2, members, RestartPolicy.Always, 2));
    }

    [Fact]
    public void Validate_NamesEveryBadField()
    {
        var errors = ClusterSpecValidation.Validate(new ClusterSpec { Name = "Bad_Name", Count = 0, CpuMillis = 0, Algorithm = AggregationAlgorithm.None });
        Assert.Contains(errors, e => e.Contains("name 'Bad_Name'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("count '0'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("algorithm 'None'", StringComparison.Ordinal));
        Assert.Empty(ClusterSpecValidation.Validate(new ClusterSpec { Name = "c1", Count = 3, Algorithm = AggregationAlgorithm.SecureAggregation, SecurityThreshold = 2 }));
        Assert.Contains(ClusterSpecValidation.Validate(new ClusterSpec { Name = "c1", Count = 3, SecurityThreshold = 2 }), e => e.Contains("applies only to secure-aggregation", StringComparison.Ordinal));
    }

    [Fact]
    public void CheckQuota_ReportsEachExceededBound()
    {
        var spec = new ClusterSpec { Name = "c1", CpuMillis = 500, MemoryBytes = 1L << 30, Quota = new ClusterQuota { CpuMillis = 1000, MemoryBytes = 2L << 30, MaxMembers = 2 } };
        Assert.Null(ClusterSpecValidation.CheckQuota(spec, 2));
        var problem = ClusterSpecValidation.CheckQuota(spec, 3);
        Assert.Contains("3 members requested, at most 2 allowed", problem, StringComparison.Ordinal);
        Assert.Contains("exceeds the cpu quota 1", problem, StringComparison.Ordinal);
        Assert.Contains("exceeds the memory quota 2Gi", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void MemberSpec_CarriesTheDeploymentOptionsAndTheCluster()
    {
        var spec = new ClusterSpec
        {
            Name = "fl",
            Count = 5,
            MemberType = VPodType.Compute,
            HighAvailability = true,
            Replicas = 2,
            PersistentStorage = new StorageRequest(1L << 30),
            NetworkPolicy = new NetworkPolicySpec { IngressFrom = ["metanode.cluster=fl"] },
            Algorithm = AggregationAlgorithm.SecureAggregation,
            SecurityThreshold = 3,
            EncryptionEnabled = true,
        };
        var member = ClusterSpecValidation.MemberSpec(spec, 4);
        Assert.Equal(("fl-4", "fl", 2, true), (member.Name, member.Cluster, member.Replicas, member.HighAvailability));
        Assert.Equal(spec.PersistentStorage, member.PersistentStorage);
        Assert.Equal(spec.NetworkPolicy, member.NetworkPolicy);
        Assert.Equal("secure-aggregation", member.Env["METANODE_ALGORITHM"]);
        Assert.Equal("3", member.Env["METANODE_SECURITY_THRESHOLD"]);
        Assert.Equal("true", member.Env["METANODE_ENCRYPTION"]);
        Assert.Equal("vpod-fl-4", ClusterSpecValidation.MemberId("fl", 4));
    }

    [Fact]
    public void MemberSpec_CarriesTheClusterPorts_AndPortZeroIsValidForProcessMembersOnly()
    {
        var spec = new ClusterSpec { Name = "py", Count = 2, Command = ["python3", "workload.py"], Ports = [0] };

        Assert.Equal([0], ClusterSpecValidation.MemberSpec(spec, 0).Ports);
        Assert.Equal([0], ClusterSpecValidation.MemberSpec(spec, 1).Ports);
        Assert.Empty(ClusterSpecValidation.MemberSpec(spec with { Ports = [] }, 0).Ports);
        Assert.Empty(ClusterSpecValidation.Validate(spec));

        var docker = spec with { DeploymentMethod = DeploymentMethod.Docker, Image = "python:3", Ports = [0, 70000] };
        var errors = ClusterSpecValidation.Validate(docker);
        Assert.Contains(errors, e => e.StartsWith("member port '0'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("member port '70000'", StringComparison.Ordinal));
    }
}
