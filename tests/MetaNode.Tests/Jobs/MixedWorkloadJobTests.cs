using System.Globalization;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Tests.Chain;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using Xunit.Abstractions;

namespace MetaNode.Tests.Jobs;

/// <summary>
/// One anvil and two silos. The mixed silo has two compute clusters — 2 vPods running the C# reference workload and 2 running
/// the stdlib-only Python workload (<c>examples/python-workload</c>) on ports the silo assigns — and 3 validator vPods with a
/// registry (threshold 2). The reference silo has the same clusters (so the same vPod ids) all running the C# workload.
/// </summary>
public sealed class MixedWorkloadJobFixture : IAsyncLifetime
{
    public const string CSharpCluster = "mx-csharp";
    public const string PythonCluster = "mx-python";
    public const string ValidatorCluster = "mx-validators";

    private readonly AnvilFixture _anvil = new();
    private JobCluster? _cluster;
    private JobCluster? _reference;

    internal JobCluster Cluster => _cluster!;

    /// <summary>The all-C# silo: same cluster names, vPod ids and seeds, the reference workload everywhere.</summary>
    internal JobCluster Reference => _reference!;

    public IReadOnlyList<string> CSharp { get; private set; } = [];

    public IReadOnlyList<string> Python { get; private set; } = [];

    public string Registry { get; private set; } = string.Empty;

    public static string PythonWorkload => Path.Combine(AppContext.BaseDirectory, "examples", "python-workload", "workload.py");

    public async Task InitializeAsync()
    {
        await _anvil.InitializeAsync();
        var mixed = JobCluster.StartAsync(_anvil);
        var reference = JobCluster.StartAsync(_anvil);
        _cluster = await mixed;
        _reference = await reference;
        var deployMixed = DeployMixedAsync(_cluster);
        var deployReference = DeployAllCSharpAsync(_reference);
        (CSharp, Python, Registry) = await deployMixed;
        await deployReference;
    }

    private static async Task<(IReadOnlyList<string> CSharp, IReadOnlyList<string> Python, string Registry)> DeployMixedAsync(JobCluster cluster)
    {
        var csharp = cluster.DeployClusterAsync(CSharpCluster, 2, VPodType.Compute);
        var python = cluster.DeployClusterAsync(PythonCluster, 2, VPodType.Compute, command: [MetaNode.Tests.Workload.WorkloadProcess.PythonInterpreter, PythonWorkload], ports: [0]);
        var validators = cluster.DeployClusterAsync(ValidatorCluster, 3, VPodType.Validator);
        var csharpMembers = await csharp;
        var pythonMembers = await python;
        await validators;
        return (csharpMembers, pythonMembers, await cluster.DeployRegistryAsync(threshold: 2));
    }

    private static async Task DeployAllCSharpAsync(JobCluster cluster)
    {
        await Task.WhenAll(
            cluster.DeployClusterAsync(CSharpCluster, 2, VPodType.Compute),
            cluster.DeployClusterAsync(PythonCluster, 2, VPodType.Compute),
            cluster.DeployClusterAsync(ValidatorCluster, 3, VPodType.Validator));
        await cluster.DeployRegistryAsync(threshold: 2);
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        if (_reference is not null)
        {
            await _reference.DisposeAsync();
        }

        await _anvil.DisposeAsync();
    }
}

/// <summary>A federated job whose compute vPods run C# and Python workloads side by side, end to end on a real silo and anvil.</summary>
public sealed class MixedWorkloadJobTests(MixedWorkloadJobFixture fixture, ITestOutputHelper output) : IClassFixture<MixedWorkloadJobFixture>
{
    private const int Rounds = 3;

    private JobCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Run_CompletesFinalizesEachRoundOnceOnChainAndMatchesAnAllCSharpRun_WhenTheComputeClustersRunCSharpAndPythonWorkloads()
    {
        // The Python members run python3 on a port the silo assigned (port 0 in the cluster spec), and are healthy on it.
        foreach (var id in fixture.Python)
        {
            var vpod = await Cluster.Grains.GetGrain<IVPodGrain>(id).GetStatusAsync();
            Assert.Equal([MetaNode.Tests.Workload.WorkloadProcess.PythonInterpreter, MixedWorkloadJobFixture.PythonWorkload], vpod.Spec!.Command);
            var port = Assert.Single(vpod.Spec.Ports);
            Assert.InRange(port, 1, 65535);
            Assert.Equal($"http://127.0.0.1:{port}", vpod.Endpoint);
        }

        var probe = Cluster.Grains.GetGrain<IChainEventProbeGrain>("mixed-probe-" + Guid.NewGuid().ToString("N")[..6]);
        await probe.SubscribeAsync(fixture.Registry);
        var job = FederatedJobTests.NewJobId();
        var everyone = fixture.CSharp.Concat(fixture.Python).Order(StringComparer.Ordinal).ToList();

        var status = await Cluster.RunAsync(job, Spec(), TimeSpan.FromSeconds(90));

        Report(status);
        Assert.Equal(FederatedJobPhase.Completed, status.Phase);
        Assert.Equal(Enumerable.Range(1, Rounds), status.Results.Select(r => r.Round));
        Assert.True(status.FinalAccuracy >= 0.85, $"final accuracy {status.FinalAccuracy} is below 0.85");
        foreach (var result in status.Results)
        {
            Assert.Equal(everyone, result.Participants);
            Assert.Empty(result.Rejected);
            var onChain = await Cluster.Chain.GetRoundAsync(job, result.Round);
            Assert.True(onChain.Finalized && onChain.Verified, $"round {result.Round} is not verified on chain");
            Assert.Equal(result.ResultHash, onChain.ResultHash);
            Assert.Equal(result.TxHash, onChain.TransactionHash);
        }

        // The Python workload answers byte-identically, so the same job over the same vPod ids, all running C#, ends in the same models.
        var reference = await fixture.Reference.RunAsync(FederatedJobTests.NewJobId(), Spec(), TimeSpan.FromSeconds(90));
        Report(reference);
        Assert.Equal(FederatedJobPhase.Completed, reference.Phase);
        Assert.Equal(everyone, reference.Results[^1].Participants);
        Assert.Equal(reference.Results.Select(r => r.ResultHash), status.Results.Select(r => r.ResultHash));
        Assert.Equal(reference.FinalAccuracy, status.FinalAccuracy);

        // Exactly one RoundFinalized event per round.
        var events = await Eventually.WaitAsync(() => probe.GetEventsAsync(), e => e.Count(x => x.JobId == job) >= Rounds, $"{Rounds} RoundFinalized events", TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(1, Rounds).Select(r => (long)r), events.Where(e => e.JobId == job).Select(e => e.Round).Order());
    }

    [Fact]
    public async Task Start_NamesEveryMissingComputeCluster()
    {
        var job = FederatedJobTests.NewJobId();
        var spec = Spec() with { ComputeCluster = $"{MixedWorkloadJobFixture.CSharpCluster},no-such-a,no-such-b" };

        var error = await Assert.ThrowsAsync<InvalidJobSpecException>(() => Cluster.Grains.GetGrain<IFederatedJobGrain>(job).StartAsync(spec));

        Assert.Contains("cluster 'no-such-a' does not exist", error.Message, StringComparison.Ordinal);
        Assert.Contains("cluster 'no-such-b' does not exist", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain($"cluster '{MixedWorkloadJobFixture.CSharpCluster}'", error.Message, StringComparison.Ordinal);
    }

    private static FederatedJobSpec Spec() => new()
    {
        ComputeCluster = $"{MixedWorkloadJobFixture.CSharpCluster},{MixedWorkloadJobFixture.PythonCluster}",
        ValidatorCluster = MixedWorkloadJobFixture.ValidatorCluster,
        Dataset = BuiltInDatasets.Digits,
        Partition = PartitionScheme.Iid,
        Rounds = Rounds,
        LocalEpochs = 5,
        BatchSize = 16,
        LearningRate = 0.1,
        MinParticipants = 4,
        RoundDeadline = TimeSpan.FromSeconds(20),
        Quorum = 2,
        Seed = 1,
    };

    private void Report(FederatedJobStatus status)
    {
        output.WriteLine($"job {status.JobId}: {status.Phase} {status.Reason}");
        foreach (var result in status.Results)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {result.Round}: accuracy {result.Accuracy:F4}, participants {string.Join(',', result.Participants)}, validators {string.Join(',', result.Validators)}, hash {result.ResultHash[..12]}"));
        }
    }
}
