using MetaNode.Chain;
using MetaNode.Grains.Hosting;
using MetaNode.Silo.Hosting;
using MetaNode.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Signer;
using Orleans.Streams;
using Orleans.TestingHost;

namespace MetaNode.Tests.Chain;

/// <summary>An in-process silo (embedded profile storage) whose chain connector points at a test anvil, with a funded operator key.</summary>
internal sealed class ChainCluster : IAsyncDisposable
{
    private ChainCluster(InProcessTestCluster cluster, string dataDirectory, string operatorAddress)
    {
        Cluster = cluster;
        DataDirectory = dataDirectory;
        Operator = operatorAddress;
    }

    public InProcessTestCluster Cluster { get; }

    public IGrainFactory Grains => Cluster.Client;

    public string DataDirectory { get; }

    public string Operator { get; }

    public IChainGrain Chain => Grains.GetGrain<IChainGrain>(ChainKeys.Default);

    public static async Task<ChainCluster> StartAsync(string rpcUrl, EthECKey operatorKey, IDictionary<string, string?>? extra = null)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-chain-tests", Guid.NewGuid().ToString("N")[..12]);
        var settings = new Dictionary<string, string?>
        {
            ["MetaNode:Chain:RpcUrl"] = rpcUrl,
            ["MetaNode:Chain:ChainId"] = "31337",
            ["MetaNode:Chain:AccountPrivateKey"] = operatorKey.GetPrivateKeyAsBytes().ToHex(prefix: true),
            ["MetaNode:Chain:VPodKeyScryptN"] = "1024",
            ["MetaNode:Chain:ReceiptPollInterval"] = "00:00:00.050",
            ["MetaNode:Chain:RpcRetryBackoffInitial"] = "00:00:00.100",
            ["MetaNode:Chain:RpcRetryBackoffCap"] = "00:00:01",
            ["MetaNode:Chain:RpcRetries"] = "30",
            ["MetaNode:Chain:Watcher:PollInterval"] = "00:00:00.200",
            ["MetaNode:VPods:ProbeInterval"] = "00:00:00.500",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSiloHost((_, host) => host.Configuration.AddInMemoryCollection(settings));
        builder.ConfigureSilo((_, silo) =>
        {
            var options = new MetaNodeSiloOptions { DataDirectory = dataDirectory };
            silo.AddMetaNodePersistence(options).AddMetaNodeServices(options);
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new ChainCluster(cluster, dataDirectory, operatorKey.GetPublicAddress().ToLowerInvariant());
    }

    /// <summary>A validator vPod running a trivial workload; returns its id and address.</summary>
    public async Task<(string Id, string Address)> CreateValidatorAsync(string name, MetaNode.VPods.VPodType type = MetaNode.VPods.VPodType.Validator)
    {
        var id = "vpod-" + Guid.NewGuid().ToString("N")[..8];
        var status = await Grains.GetGrain<MetaNode.VPods.IVPodGrain>(id).CreateAsync(new MetaNode.VPods.VPodSpec
        {
            Name = name,
            Type = type,
            Command = ["/bin/sh", "-c", "exec sleep 600"],
            RestartPolicy = MetaNode.VPods.RestartPolicy.Never,
            CpuMillis = 100,
            MemoryBytes = 64L << 20,
        });
        return (id, status.Address ?? string.Empty);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var summary in await Grains.GetGrain<MetaNode.VPods.IVPodRegistryGrain>(MetaNode.VPods.VPodRegistryKeys.Default).ListAsync())
        {
            try
            {
                await Grains.GetGrain<MetaNode.VPods.IVPodGrain>(summary.Id).DeleteAsync(new MetaNode.VPods.StopOptions(Force: true));
            }
            catch (Exception exception) when (exception is MetaNode.VPods.InvalidVPodOperationException or MetaNode.VPods.VPodNotFoundException)
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

/// <summary>Subscribes to the registry's event stream and keeps what arrives (to check "no event missed or repeated").</summary>
public interface IChainEventProbeGrain : IGrainWithStringKey
{
    Task SubscribeAsync(string registry);

    Task<IReadOnlyList<RoundFinalizedEvent>> GetEventsAsync();
}

public sealed class ChainEventProbeGrain : Grain, IChainEventProbeGrain
{
    private readonly List<RoundFinalizedEvent> _events = [];

    public async Task SubscribeAsync(string registry)
    {
        var stream = this.GetStreamProvider(MetaNodeNames.StreamProvider).GetStream<RoundFinalizedEvent>(StreamId.Create(ChainStreams.RegistryEvents, registry));
        foreach (var handle in await stream.GetAllSubscriptionHandles())
        {
            await handle.ResumeAsync(OnNextAsync);
        }

        if ((await stream.GetAllSubscriptionHandles()).Count == 0)
        {
            await stream.SubscribeAsync(OnNextAsync);
        }
    }

    public Task<IReadOnlyList<RoundFinalizedEvent>> GetEventsAsync() => Task.FromResult<IReadOnlyList<RoundFinalizedEvent>>(_events.ToArray());

    private Task OnNextAsync(RoundFinalizedEvent item, StreamSequenceToken? token)
    {
        _events.Add(item);
        return Task.CompletedTask;
    }
}
