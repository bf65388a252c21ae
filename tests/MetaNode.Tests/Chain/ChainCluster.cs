using MetaNode.Chain;
using MetaNode.Grains.Chain;
using MetaNode.Grains.Hosting;
using MetaNode.Tests.Infrastructure;
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
            ["MetaNode:Chain:ReceiptPollInterval"] = "00:00:00.050",
            ["MetaNode:Chain:RpcRetryBackoffInitial"] = "00:00:00.100",
            ["MetaNode:Chain:RpcRetryBackoffCap"] = "00:00:01",
            ["MetaNode:Chain:RpcRetries"] = "30",
            ["MetaNode:Chain:Watcher:PollInterval"] = "00:00:00.200",
            ["MetaNode:VPods:ProbeInterval"] = "00:00:00.500",
            ["MetaNode:Capacity:Cpu"] = "64",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var cluster = await new TestSiloBuilder().WithSettings(settings).WithMetaNode(dataDirectory).StartAsync();
        return new ChainCluster(cluster, dataDirectory, operatorKey.GetPublicAddress().ToLowerInvariant());
    }

    /// <summary>A vPod running the reference workload (its key in its own key directory); returns its id and the address it proved.</summary>
    public async Task<(string Id, string Address)> CreateValidatorAsync(string name, MetaNode.VPods.VPodType type = MetaNode.VPods.VPodType.Validator)
    {
        var id = "vpod-" + Guid.NewGuid().ToString("N")[..8];
        var vpod = Grains.GetGrain<MetaNode.VPods.IVPodGrain>(id);
        await vpod.CreateAsync(new MetaNode.VPods.VPodSpec
        {
            Name = name,
            Type = type,
            RestartPolicy = MetaNode.VPods.RestartPolicy.Never,
            CpuMillis = 1000,
            MemoryBytes = 200L << 20,
        });
        if (type is not (MetaNode.VPods.VPodType.Compute or MetaNode.VPods.VPodType.Validator))
        {
            return (id, string.Empty);
        }

        var status = await Eventually.WaitAsync(() => vpod.GetStatusAsync(), s => s.Identity == MetaNode.VPods.VPodIdentityState.Proven, $"vPod {name} to prove its key", TimeSpan.FromSeconds(60));
        return (id, status.Address!);
    }

    /// <summary>A validator vPod whose workload speaks no protocol (<c>sleep</c>): it runs, but proves no key.</summary>
    public async Task<string> CreateSilentValidatorAsync(string name)
    {
        var id = "vpod-" + Guid.NewGuid().ToString("N")[..8];
        await Grains.GetGrain<MetaNode.VPods.IVPodGrain>(id).CreateAsync(new MetaNode.VPods.VPodSpec
        {
            Name = name,
            Type = MetaNode.VPods.VPodType.Validator,
            Command = ["/bin/sh", "-c", "exec sleep 600"],
            RestartPolicy = MetaNode.VPods.RestartPolicy.Never,
            CpuMillis = 1000,
            MemoryBytes = 64L << 20,
        });
        return id;
    }

    /// <summary>
    /// A registry deployed through the operator's account grain for validator keys the test holds (never vPod keys): the chain
    /// connector's own tests (submission, replacement, resumption) sign rounds with these, as any outside signer could.
    /// </summary>
    public async Task<string> DeployTestRegistryAsync(EthECKey[] keys, int threshold)
    {
        var receipt = await Grains.GetGrain<IChainAccountGrain>(Operator).DeployRegistryAsync(RegistryClient.SortValidators(keys.Select(k => k.GetPublicAddress())), threshold);
        return receipt.ContractAddress!.ToLowerInvariant();
    }

    /// <summary>Finalizes <paramref name="round"/> on <paramref name="registry"/> through the operator's account grain with signatures of <paramref name="keys"/>.</summary>
    public Task<FinalizationResult> FinalizeWithKeysAsync(string registry, RoundResult round, IEnumerable<EthECKey> keys) =>
        Grains.GetGrain<IChainAccountGrain>(Operator).FinalizeRoundAsync(
            registry,
            round,
            keys.Select(k => RegistryHarness.Sign(k, RegistryTypedData.FinalizeDigest(new RegistryDomain(31337, registry), round))).OrderBy(s => s.Signer, StringComparer.Ordinal).ToArray());

    public static EthECKey[] TestKeys(int count) => Enumerable.Range(0, count).Select(_ => EthECKey.GenerateKey()).ToArray();

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

        await TestSiloBuilder.StopAsync(Cluster, DataDirectory);
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
