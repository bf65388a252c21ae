using MetaNode.Chain;
using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using MetaNode.Workloads;
using Microsoft.Extensions.DependencyInjection;
using Nethereum.Hex.HexConvertors.Extensions;
using Orleans.TestingHost;

namespace MetaNode.Tests.Jobs;

/// <summary>
/// Faults a test switches on, all of them things a silo (not a workload) can do: a training request with a learning rate that makes a
/// useless outlier, a validator fed other facts, stream events published twice, a forged copy published before the real one.
/// </summary>
internal sealed class TestFaults : IFederatedFaults
{
    public string? PoisonedVPod { get; set; }

    public double PoisonFactor { get; set; } = 1000;

    /// <summary>A validator whose workload is handed another global model: it computes (and signs) another result.</summary>
    public string? MisinformedValidator { get; set; }

    public int StreamCopies { get; set; } = 1;

    /// <summary>
    /// A compute vPod whose update is preceded on the stream (and at the job) by a forged copy: another model, its hash, the real
    /// signature. Its real copy reaches only the job (the stream is slow with it): validators must fetch it from the job.
    /// </summary>
    public string? ForgedFirstVPod { get; set; }

    /// <summary>A validator whose signed answer reaches the job with another optimizer state than the one its workload hashed and signed.</summary>
    public string? TamperedStateValidator { get; set; }

    public AggregateResponse ValidatorAnswer(string validatorVPodId, int round, AggregateResponse answer) =>
        validatorVPodId == TamperedStateValidator && answer.OptimizerState?.Momentum is { Length: > 0 } momentum
            ? answer with { OptimizerState = answer.OptimizerState with { Momentum = [momentum[0] + 1, .. momentum[1..]] } }
            : answer;

    /// <summary>Runs in the compute vPod's grain before it asks its workload to train.</summary>
    public Func<string, int, Task>? BeforeTraining { get; set; }

    public Task BeforeTrainingAsync(string vpodId, int round) => BeforeTraining?.Invoke(vpodId, round) ?? Task.CompletedTask;

    public TrainingHyperParameters Training(string vpodId, int round, TrainingHyperParameters hyperParameters) =>
        vpodId == PoisonedVPod ? hyperParameters with { LearningRate = hyperParameters.LearningRate * PoisonFactor } : hyperParameters;

    /// <summary>A compute vPod whose update comes back with one class too many (as from a workload that answers another shape).</summary>
    public string? MisshapenVPod { get; set; }

    public IReadOnlyList<ModelUpdate> Published(string vpodId, int round, ModelUpdate update)
    {
        if (vpodId == MisshapenVPod)
        {
            return [update with { Model = FederatedModel.Zero(update.Model.Classes + 1, update.Model.Features) }];
        }

        var copies = Enumerable.Repeat(update, StreamCopies).ToList();
        if (vpodId == ForgedFirstVPod)
        {
            var forged = new FederatedModel(update.Model.Classes, update.Model.Features, update.Model.Parameters.Select(p => p * 3).ToArray());
            var hash = ModelEncoding.HashHex(forged);
            lock (_forgedHashes)
            {
                _forgedHashes.Add(hash);
            }

            copies.Insert(0, new ModelUpdate(update.Receipt with { UpdateHash = hash }, forged, update.Metrics));
        }

        return copies;
    }

    /// <summary>Every (vPod, round) whose update copy a compute grain was about to put on the stream.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<(string VPodId, int Round), bool> StreamedUpdates { get; } = new();

    public bool Streamed(string vpodId, int round, ModelUpdate copy)
    {
        StreamedUpdates[(vpodId, round)] = true;
        lock (_forgedHashes)
        {
            return vpodId != ForgedFirstVPod || _forgedHashes.Contains(copy.Receipt.UpdateHash);
        }
    }

    private readonly HashSet<string> _forgedHashes = [];

    /// <summary>Secure aggregation: runs in the job after a round's masked updates are in, before the survivors confirm them.</summary>
    public Func<string, int, Task>? BeforeUnmasking { get; set; }

    public Task BeforeUnmaskingAsync(string jobId, int round) => BeforeUnmasking?.Invoke(jobId, round) ?? Task.CompletedTask;

    public AggregateRequest ValidatorRequest(string validatorVPodId, int round, AggregateRequest request) =>
        validatorVPodId == MisinformedValidator
            ? request with { Global = request.Global with { Bias = request.Global.Bias.Select(b => b + 1).ToArray() }, Aggregation = "median" }
            : request;
}

/// <summary>
/// An in-process silo (embedded-profile storage, the process runtime running real workload processes) whose chain is a test
/// anvil: deploys a compute and a validator cluster, a registry for the validators, and runs jobs.
/// </summary>
internal sealed class JobCluster : IAsyncDisposable
{
    private JobCluster(InProcessTestCluster cluster, string dataDirectory, TestFaults faults)
    {
        Cluster = cluster;
        DataDirectory = dataDirectory;
        Faults = faults;
    }

    public const long MaxUploadBytes = 1024 * 1024;

    public InProcessTestCluster Cluster { get; }

    public IGrainFactory Grains => Cluster.Client;

    public string DataDirectory { get; }

    public TestFaults Faults { get; }

    public IChainGrain Chain => Grains.GetGrain<IChainGrain>(ChainKeys.Default);

    /// <summary>Starts the silo; <paramref name="extraSettings"/> are added to (and override) the job settings (e.g. a Docker endpoint).</summary>
    public static async Task<JobCluster> StartAsync(AnvilFixture anvil, IReadOnlyDictionary<string, string?>? extraSettings = null)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-job-tests", Guid.NewGuid().ToString("N")[..12]);
        var key = await anvil.FundedKeyAsync();
        var settings = new Dictionary<string, string?>
        {
            ["MetaNode:Chain:RpcUrl"] = anvil.RpcUrl,
            ["MetaNode:Chain:ChainId"] = "31337",
            ["MetaNode:Chain:AccountPrivateKey"] = key.GetPrivateKeyAsBytes().ToHex(prefix: true),
            ["MetaNode:Chain:ReceiptPollInterval"] = "00:00:00.020",
            ["MetaNode:Chain:Watcher:PollInterval"] = "00:00:00.200",
            ["MetaNode:VPods:ProbeInterval"] = "00:00:00.300",
            // Each workload gets a whole core (its cgroup enforces it); the silo offers more than the machine has.
            ["MetaNode:Capacity:Cpu"] = "64",
            ["MetaNode:VPods:StartupProbeInterval"] = "00:00:00.100",
            ["MetaNode:VPods:FailureThreshold"] = "2",
            ["MetaNode:VPods:RestartBackoffInitial"] = "00:00:00.100",
            ["MetaNode:VPods:RestartBackoffCap"] = "00:00:00.400",
            ["MetaNode:Federation:Jobs:PumpInterval"] = "00:00:00.100",

            // Finalized rounds move to the job's history three at a time, so a job of a few rounds reads its status, models and
            // signed rounds from history pages as well as from its own state.
            ["MetaNode:Federation:Jobs:HistoryPageRounds"] = "3",

            // These tests check every validator's verdict in each round (a liar's disagreement, all signatures recorded): a round
            // waits for all of them rather than finalizing as soon as the quorum agrees.
            ["MetaNode:Federation:Jobs:QuorumGrace"] = "00:01:00",

            // Jobs may name the shipped data sets' folder by relative paths; uploads above 1 MiB are refused.
            ["MetaNode:Datasets:Root"] = Path.GetDirectoryName(BuiltInDatasets.DigitsPath()),
            ["MetaNode:Datasets:MaxUploadBytes"] = MaxUploadBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        foreach (var (name, value) in extraSettings ?? new Dictionary<string, string?>())
        {
            settings[name] = value;
        }

        var faults = new TestFaults();
        var cluster = await new TestSiloBuilder()
            .WithSettings(settings)
            .WithMetaNode(dataDirectory)
            .ConfigureSilo(silo => silo.Services.AddSingleton<IFederatedFaults>(faults))
            .StartAsync();
        return new JobCluster(cluster, dataDirectory, faults);
    }

    /// <summary>
    /// Deploys a cluster of vPods (process vPods running the reference workload unless a command is given; docker vPods run
    /// <paramref name="image"/>) and waits until every member runs.
    /// </summary>
    public async Task<IReadOnlyList<string>> DeployClusterAsync(
        string name,
        int count,
        VPodType type,
        IReadOnlyList<string>? command = null,
        IReadOnlyList<int>? ports = null,
        DeploymentMethod method = DeploymentMethod.Process,
        string? image = null,
        long cpuMillis = 1000)
    {
        var spec = new ClusterSpec
        {
            Name = name,
            Count = count,
            MemberType = type,
            DeploymentMethod = method,
            Image = image,
            CpuMillis = cpuMillis,
            MemoryBytes = 200L << 20,
            Command = command ?? [],
            Ports = ports ?? [],
        };
        await Grains.GetGrain<IVPodClusterGrain>(name).DeployAsync(spec);
        var status = await Eventually.WaitAsync(
            () => Grains.GetGrain<IVPodClusterGrain>(name).GetStatusAsync(),
            s => s.Members.Count == count && s.Members.All(m => m.Phase == VPodPhase.Running && m.Health == VPodHealth.Healthy),
            $"cluster {name}: {count} healthy members",
            TimeSpan.FromSeconds(120));
        return status.Members.Select(m => m.Id).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>A registry whose validators are the validator vPods, threshold <paramref name="threshold"/>.</summary>
    public async Task<string> DeployRegistryAsync(int threshold) =>
        (await Chain.DeployRegistryAsync(new DeployRegistryCommand { Threshold = threshold })).Registry!;

    public async Task<FederatedJobStatus> RunAsync(string jobId, FederatedJobSpec spec, TimeSpan timeout)
    {
        await Grains.GetGrain<IFederatedJobGrain>(jobId).StartAsync(spec);
        return await WaitFinishedAsync(jobId, timeout);
    }

    public Task<FederatedJobStatus> WaitFinishedAsync(string jobId, TimeSpan timeout) => Eventually.WaitAsync(
        () => Grains.GetGrain<IFederatedJobGrain>(jobId).GetStatusAsync(),
        s => s.IsFinished,
        $"job {jobId} to finish",
        timeout);

    public async ValueTask DisposeAsync()
    {
        foreach (var summary in await Grains.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default).ListAsync())
        {
            try
            {
                await Grains.GetGrain<IVPodGrain>(summary.Id).DeleteAsync(new StopOptions(Force: true));
            }
            catch (Exception exception) when (exception is InvalidVPodOperationException or VPodNotFoundException)
            {
            }
        }

        await TestSiloBuilder.StopAsync(Cluster, DataDirectory);
    }
}
