using MetaNode.Chain;
using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Silo.Hosting;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Nethereum.Hex.HexConvertors.Extensions;
using Orleans.TestingHost;

namespace MetaNode.Tests.Jobs;

/// <summary>Faults a test switches on: a poisoned compute vPod, a lying validator, stream events published twice.</summary>
internal sealed class TestFaults : IFederatedFaults
{
    public string? PoisonedVPod { get; set; }

    public double PoisonFactor { get; set; } = 1000;

    public string? WrongHashValidator { get; set; }

    public int StreamCopies { get; set; } = 1;

    /// <summary>Runs in the compute vPod's grain before it asks its workload to train.</summary>
    public Func<string, int, Task>? BeforeTraining { get; set; }

    public Task BeforeTrainingAsync(string vpodId, int round) => BeforeTraining?.Invoke(vpodId, round) ?? Task.CompletedTask;

    public FederatedModel TrainedModel(string vpodId, int round, FederatedModel model) =>
        vpodId == PoisonedVPod ? new FederatedModel(model.Classes, model.Features, model.Parameters.Select(p => p * PoisonFactor).ToArray()) : model;

    int IFederatedFaults.StreamCopies(string vpodId, int round) => StreamCopies;

    public string SignedResultHash(string validatorVPodId, int round, string resultHash) =>
        validatorVPodId == WrongHashValidator ? "0x" + new string('e', 64) : resultHash;
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
            ["MetaNode:Chain:VPodKeyScryptN"] = "1024",
            ["MetaNode:Chain:ReceiptPollInterval"] = "00:00:00.020",
            ["MetaNode:Chain:Watcher:PollInterval"] = "00:00:00.200",
            ["MetaNode:VPods:ProbeInterval"] = "00:00:00.300",
            ["MetaNode:VPods:StartupProbeInterval"] = "00:00:00.100",
            ["MetaNode:VPods:FailureThreshold"] = "2",
            ["MetaNode:VPods:RestartBackoffInitial"] = "00:00:00.100",
            ["MetaNode:VPods:RestartBackoffCap"] = "00:00:00.400",
            ["MetaNode:Federation:Jobs:PumpInterval"] = "00:00:00.100",
        };
        foreach (var (name, value) in extraSettings ?? new Dictionary<string, string?>())
        {
            settings[name] = value;
        }

        var faults = new TestFaults();
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSiloHost((_, host) => host.Configuration.AddInMemoryCollection(settings));
        builder.ConfigureSilo((_, silo) =>
        {
            var options = new MetaNodeSiloOptions { DataDirectory = dataDirectory };
            silo.AddMetaNodePersistence(options).AddMetaNodeServices(options);
            silo.Services.AddSingleton<IFederatedFaults>(faults);
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
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
        long cpuMillis = 100)
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

        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        SiloProcess.KillWorkloadsUnder(DataDirectory);
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A workload still flushing its log; the temporary directory is left for the OS to clean.
        }
    }
}
