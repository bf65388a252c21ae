using System.Globalization;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Tests.Chain;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using Xunit.Abstractions;

namespace MetaNode.Tests.Jobs;

/// <summary>
/// A federated job over docker vPods, end to end: one anvil and two silos. The docker silo runs the compute and validator
/// clusters as containers of <see cref="DockerEngine.ComputeImage"/> on the docker test engine (host network, a loopback port
/// each), and the job uploads each vPod's partition into its container. The reference silo has the same clusters (so the same
/// vPod ids) as process vPods; training is deterministic, so both runs must end every round in the same model.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class DockerJobTests(DockerClusterFixture docker, ITestOutputHelper output) : IAsyncLifetime
{
    private const string ComputeCluster = "dk-compute";
    private const string ValidatorCluster = "dk-validators";
    private const int ComputeCount = 3;
    private const int ValidatorCount = 3;
    private const int Rounds = 3;
    private const long DockerCpuMillis = 300;

    private readonly AnvilFixture _anvil = new();
    private JobCluster? _docker;
    private JobCluster? _reference;
    private IReadOnlyList<string> _compute = [];
    private IReadOnlyList<string> _validators = [];
    private string _registry = string.Empty;

    public async Task InitializeAsync()
    {
        await _anvil.InitializeAsync();
        var dockerSilo = JobCluster.StartAsync(_anvil, new Dictionary<string, string?>
        {
            ["MetaNode:Runtime:Docker:Endpoint"] = docker.Engine.Endpoint,
            ["MetaNode:Runtime:Docker:PullTimeout"] = "00:00:30",
            ["MetaNode:VPods:StartupGracePeriod"] = "00:00:30",
        });
        var referenceSilo = JobCluster.StartAsync(_anvil);
        _docker = await dockerSilo;
        _reference = await referenceSilo;

        var compute = _docker.DeployClusterAsync(ComputeCluster, ComputeCount, VPodType.Compute, method: DeploymentMethod.Docker, image: DockerEngine.ComputeImage, cpuMillis: DockerCpuMillis);
        var validators = _docker.DeployClusterAsync(ValidatorCluster, ValidatorCount, VPodType.Validator, method: DeploymentMethod.Docker, image: DockerEngine.ComputeImage, cpuMillis: DockerCpuMillis);
        var reference = Task.WhenAll(
            _reference.DeployClusterAsync(ComputeCluster, ComputeCount, VPodType.Compute),
            _reference.DeployClusterAsync(ValidatorCluster, ValidatorCount, VPodType.Validator));
        _compute = await compute;
        _validators = await validators;
        await reference;
        _registry = await _docker.DeployRegistryAsync(threshold: 2);
        await _reference.DeployRegistryAsync(threshold: 2);
    }

    public async Task DisposeAsync()
    {
        if (_docker is not null)
        {
            await _docker.DisposeAsync();
        }

        if (_reference is not null)
        {
            await _reference.DisposeAsync();
        }

        await _anvil.DisposeAsync();
    }

    [Fact]
    public async Task Run_CompletesOverDockerVPodsWithTheirPartitionsInTheContainers_AndMatchesAProcessRunRoundForRound()
    {
        var statuses = await Task.WhenAll(_compute.Concat(_validators).Select(id => _docker!.Grains.GetGrain<IVPodGrain>(id).GetStatusAsync()));
        Assert.All(statuses, s => Assert.Equal((DeploymentMethod.Docker, DockerEngine.ComputeImage), (s.DeploymentMethod, s.Spec!.Image)));
        var probe = _docker!.Grains.GetGrain<IChainEventProbeGrain>("docker-probe-" + Guid.NewGuid().ToString("N")[..6]);
        await probe.SubscribeAsync(_registry);
        var job = FederatedJobTests.NewJobId();

        var status = await _docker.RunAsync(job, Spec(), TimeSpan.FromSeconds(150));

        Report(status);
        Assert.Equal(FederatedJobPhase.Completed, status.Phase);
        Assert.Equal(Enumerable.Range(1, Rounds), status.Results.Select(r => r.Round));
        Assert.True(status.FinalAccuracy > 0.8, $"final accuracy {status.FinalAccuracy} is not above 0.8");
        foreach (var result in status.Results)
        {
            Assert.Equal(_compute, result.Participants);
            var onChain = await _docker.Chain.GetRoundAsync(job, result.Round);
            Assert.True(onChain.Finalized && onChain.Verified, $"round {result.Round} is not verified on chain");
            Assert.Equal(result.ResultHash, onChain.ResultHash);
            Assert.Equal(result.TxHash, onChain.TransactionHash);
        }

        // Each container holds exactly the partition the job computed for its vPod, manifest included.
        var placement = FederatedDataPlacement.Place(Spec(), BuiltInDatasets.LoadDigits(), _compute.ToList(), _validators.ToList());
        foreach (var vpod in statuses)
        {
            foreach (var file in placement.Files[vpod.Id].Files)
            {
                Assert.Equal(file.Content, await docker.Engine.ReadFileAsync(vpod.Handle!.Id, "/vpod/data/" + file.Name));
            }
        }

        // Exactly one RoundFinalized event per round.
        var events = await Eventually.WaitAsync(() => probe.GetEventsAsync(), e => e.Count(x => x.JobId == job) >= Rounds, $"{Rounds} RoundFinalized events", TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(1, Rounds).Select(r => (long)r), events.Where(e => e.JobId == job).Select(e => e.Round).Order());

        // The same job over process vPods with the same ids ends every round in the same model.
        var reference = await _reference!.RunAsync(FederatedJobTests.NewJobId(), Spec(), TimeSpan.FromSeconds(150));
        Report(reference);
        Assert.Equal(FederatedJobPhase.Completed, reference.Phase);
        Assert.Equal(reference.Results.Select(r => r.ResultHash), status.Results.Select(r => r.ResultHash));
        Assert.Equal(reference.FinalAccuracy, status.FinalAccuracy);
    }

    private static FederatedJobSpec Spec() => new()
    {
        ComputeCluster = ComputeCluster,
        ValidatorCluster = ValidatorCluster,
        Dataset = BuiltInDatasets.Digits,
        Partition = PartitionScheme.Iid,
        Rounds = Rounds,
        LocalEpochs = 5,
        BatchSize = 16,
        LearningRate = 0.1,
        MinParticipants = ComputeCount,
        RoundDeadline = TimeSpan.FromSeconds(30),
        Quorum = 2,
        Seed = 5,
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
