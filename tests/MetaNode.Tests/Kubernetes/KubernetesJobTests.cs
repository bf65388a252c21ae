using System.Diagnostics;
using System.Globalization;
using System.Net;
using MetaNode.Chain;
using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Grains.Hosting;
using MetaNode.Tests.Infrastructure;
using MetaNode.Tests.Jobs;
using MetaNode.VPods;
using MetaNode.Workload.Keys;
using Microsoft.Extensions.DependencyInjection;
using Nethereum.Hex.HexConvertors.Extensions;
using Orleans.TestingHost;
using Xunit.Abstractions;

namespace MetaNode.Tests.Kubernetes;

/// <summary>
/// A federated job over kubernetes vPods, end to end: an in-process silo whose kubernetes runtime (the real client) talks to the
/// in-process API server, a <see cref="LoopbackKubelet"/> that runs every pod the runtime's Deployments ask for as a real process
/// of the reference workload on a loopback pod IP of its own (its own data and key volumes), and a test anvil. The silo reaches a
/// vPod at the endpoint the runtime reports, the Service name <c>http://{vPod}.{namespace}.svc:{port}/</c>, which
/// <see cref="LoopbackServiceNetwork"/> (cluster DNS and service proxy) resolves to a ready pod of that Service. Identities, data,
/// training and aggregation all go through the workload protocol; nothing passes through the runtime but the pods.
/// </summary>
public sealed class KubernetesJobTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Namespace = "vpods";
    private const string ComputeCluster = "k8s-compute";
    private const string ValidatorCluster = "k8s-validators";
    private const string Image = "metanode/compute-vpod:loopback-kubelet";
    private const int ComputeCount = 4;
    private const int ValidatorCount = 3;
    private const int Rounds = 3;

    private readonly AnvilFixture _anvil = new();
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-k8s-job-tests", Guid.NewGuid().ToString("N")[..12]);
    private FakeKubernetesApiServer? _server;
    private LoopbackKubelet? _kubelet;
    private LoopbackServiceNetwork? _network;
    private InProcessTestCluster? _cluster;

    /// <summary>The workload port of every vPod: each pod listens on it at its own pod IP. Free on every address when the test starts.</summary>
    private readonly int _port = TestPorts.FreeOnAllAddresses();

    private IGrainFactory Grains => _cluster!.Client;

    public async Task InitializeAsync()
    {
        await _anvil.InitializeAsync();
        _server = await FakeKubernetesApiServer.StartAsync();
        _kubelet = LoopbackKubelet.Start(_server, Namespace);
        _network = new LoopbackServiceNetwork(_server);

        var key = await _anvil.FundedKeyAsync();
        var settings = new Dictionary<string, string?>
        {
            ["MetaNode:Chain:RpcUrl"] = _anvil.RpcUrl,
            ["MetaNode:Chain:ChainId"] = "31337",
            ["MetaNode:Chain:AccountPrivateKey"] = key.GetPrivateKeyAsBytes().ToHex(prefix: true),
            ["MetaNode:Chain:ReceiptPollInterval"] = "00:00:00.020",
            ["MetaNode:Chain:Watcher:PollInterval"] = "00:00:00.200",
            ["MetaNode:Runtime:Kubernetes:BaseUrl"] = _server.BaseUrl.ToString(),
            ["MetaNode:Runtime:Kubernetes:Namespace"] = Namespace,
            ["MetaNode:Runtime:Kubernetes:RetryDelay"] = "00:00:00.100",
            ["MetaNode:VPods:ProbeInterval"] = "00:00:00.300",
            ["MetaNode:VPods:StartupProbeInterval"] = "00:00:00.100",
            ["MetaNode:VPods:StartupGracePeriod"] = "00:00:30",
            ["MetaNode:VPods:FailureThreshold"] = "2",
            ["MetaNode:VPods:RestartBackoffInitial"] = "00:00:00.100",
            ["MetaNode:VPods:RestartBackoffCap"] = "00:00:00.400",
            ["MetaNode:Federation:Jobs:PumpInterval"] = "00:00:00.100",
        };
        var network = _network;
        _cluster = await new TestSiloBuilder()
            .WithSettings(settings)
            .WithMetaNode(_dataDirectory)
            .ConfigureSilo(silo =>
                // The silo inside the cluster: Service names resolve through cluster DNS, and no proxy stands between it and the pods.
                silo.Services.AddHttpClient(MetaNodeNames.WorkloadHttpClient)
                    .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { UseProxy = false, ConnectCallback = network.ConnectAsync }))
            .StartAsync();
    }

    public async Task DisposeAsync()
    {
        await TestSiloBuilder.StopAsync(_cluster);

        if (_kubelet is not null)
        {
            await _kubelet.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        await _anvil.DisposeAsync();
        TestSiloBuilder.CleanUp(_dataDirectory);
    }

    [Fact]
    public async Task Run_CompletesAndFinalizesEveryRoundOnChain_WhenComputeAndValidatorVPodsRunAsKubernetesPods()
    {
        var watch = Stopwatch.StartNew();
        try
        {
            var deployCompute = DeployClusterAsync(ComputeCluster, ComputeCount, VPodType.Compute);
            var deployValidators = DeployClusterAsync(ValidatorCluster, ValidatorCount, VPodType.Validator);
            var compute = await deployCompute;
            var validators = await deployValidators;
            output.WriteLine($"{watch.Elapsed.TotalSeconds:F1} s: {ComputeCount} compute and {ValidatorCount} validator kubernetes vPods running, identities proven");

            // Every vPod is a kubernetes vPod whose endpoint is its Service, which reaches the workload process of its own pod,
            // and the address it proved is the key that process keeps on its key volume.
            var pods = _kubelet!.Pods;
            foreach (var id in compute.Concat(validators))
            {
                var status = await Grains.GetGrain<IVPodGrain>(id).GetStatusAsync();
                Assert.Equal((DeploymentMethod.Kubernetes, Image), (status.DeploymentMethod, status.Spec!.Image));
                Assert.Equal((DeploymentMethod.Kubernetes, $"deployment/{id}"), (status.Handle!.Method, status.Handle.Id));
                var endpoint = new Uri(status.Handle.Endpoint!);
                Assert.Equal($"http://{id}.{Namespace}.svc:{_port.ToString(CultureInfo.InvariantCulture)}/", endpoint.ToString());
                var pod = Assert.Single(pods, p => p.VPodId == id);
                Assert.Equal(new IPEndPoint(IPAddress.Parse(pod.Address), pod.Port), _network!.Resolve(endpoint.Host, endpoint.Port));
                Assert.Equal(VPodIdentityState.Proven, status.Identity);
                Assert.Equal(VPodKeyFile.Load(VPodKeyFile.PathIn(pod.KeyDirectory)).Address, status.Address, StringComparer.OrdinalIgnoreCase);
            }

            Assert.Equal(ComputeCount + ValidatorCount, pods.Select(p => p.Address).Distinct(StringComparer.Ordinal).Count());

            var registry = await Chain.DeployRegistryAsync(new DeployRegistryCommand { Threshold = 2 });
            output.WriteLine($"{watch.Elapsed.TotalSeconds:F1} s: registry {registry.Registry}");
            var job = FederatedJobTests.NewJobId();
            await Grains.GetGrain<IFederatedJobGrain>(job).StartAsync(Spec());
            var finished = await Eventually.WaitAsync(
                () => Grains.GetGrain<IFederatedJobGrain>(job).GetStatusAsync(),
                s => s.IsFinished,
                $"job {job} to finish",
                TimeSpan.FromSeconds(180));
            Report(finished);
            output.WriteLine($"{watch.Elapsed.TotalSeconds:F1} s: job {finished.Phase}");

            Assert.Equal(FederatedJobPhase.Completed, finished.Phase);
            Assert.Equal(Enumerable.Range(1, Rounds), finished.Results.Select(r => r.Round));
            var methods = new Dictionary<string, DeploymentMethod>(StringComparer.Ordinal);
            foreach (var result in finished.Results)
            {
                Assert.Equal(compute, result.Participants);
                var onChain = await Chain.GetRoundAsync(job, result.Round);
                Assert.True(onChain.Finalized && onChain.Verified, $"round {result.Round} is not finalized and verified on chain");
                Assert.Equal(result.ResultHash, onChain.ResultHash);
                Assert.Equal(result.TxHash, onChain.TransactionHash);

                // The result is signed by a quorum of the validator vPods, and each one that signed runs on kubernetes.
                Assert.True(result.Validators.Count >= 2, $"round {result.Round}: {result.Validators.Count} validators signed, the quorum is 2");
                Assert.All(result.Validators, v => Assert.Contains(v, validators));
                Assert.All(result.Signatures, s => Assert.Contains(s.VPodId!, result.Validators));
                foreach (var validator in result.Validators)
                {
                    if (!methods.ContainsKey(validator))
                    {
                        methods[validator] = (await Grains.GetGrain<IVPodGrain>(validator).GetStatusAsync()).DeploymentMethod;
                    }

                    Assert.Equal(DeploymentMethod.Kubernetes, methods[validator]);
                }
            }

            // Each workload's own data volume holds exactly the partition the job computed for its vPod, manifest included:
            // the data went to the pods through the workload protocol (the kubernetes runtime refuses data files).
            var placement = FederatedDataPlacement.Place(Spec(), BuiltInDatasets.LoadDigits(), compute.ToList(), validators.ToList());
            foreach (var id in compute.Concat(validators))
            {
                var data = _kubelet.DataDirectoryOf(id);
                Assert.True(File.Exists(Path.Combine(data, "manifest.json")), $"vPod {id}: no manifest.json in its pod's data directory {data}");
                foreach (var file in placement.Files[id].Files)
                {
                    Assert.Equal(file.Content, await File.ReadAllBytesAsync(Path.Combine(data, file.Name)));
                }
            }

            Assert.Empty(_kubelet.Errors);
            output.WriteLine($"{watch.Elapsed.TotalSeconds:F1} s: done");
        }
        catch
        {
            output.WriteLine(_kubelet!.Describe());
            output.WriteLine(string.Join(Environment.NewLine, _kubelet.Errors));
            throw;
        }
    }

    private IChainGrain Chain => Grains.GetGrain<IChainGrain>(ChainKeys.Default);

    private static FederatedJobSpec Spec() => FederatedJobTests.Spec(rounds: Rounds, minParticipants: ComputeCount) with
    {
        ComputeCluster = ComputeCluster,
        ValidatorCluster = ValidatorCluster,
    };

    /// <summary>Deploys a kubernetes cluster and waits until every member runs, is healthy and has proven its identity; its member ids, sorted.</summary>
    private async Task<IReadOnlyList<string>> DeployClusterAsync(string name, int count, VPodType type)
    {
        await Grains.GetGrain<IVPodClusterGrain>(name).DeployAsync(new ClusterSpec
        {
            Name = name,
            Count = count,
            MemberType = type,
            DeploymentMethod = DeploymentMethod.Kubernetes,
            Image = Image,
            CpuMillis = 100,
            MemoryBytes = 200L << 20,
            Ports = [_port],
        });
        var status = await Eventually.WaitAsync(
            () => Grains.GetGrain<IVPodClusterGrain>(name).GetStatusAsync(),
            s => s.Members.Count == count && s.Members.All(m => m.Phase == VPodPhase.Running && m.Health == VPodHealth.Healthy),
            $"cluster {name}: {count} running, healthy members",
            TimeSpan.FromSeconds(120));
        var members = status.Members.Select(m => m.Id).Order(StringComparer.Ordinal).ToList();
        await Eventually.WaitAsync(
            () => Task.WhenAll(members.Select(id => Grains.GetGrain<IVPodGrain>(id).GetStatusAsync())),
            statuses => statuses.All(s => s.Identity == VPodIdentityState.Proven),
            $"cluster {name}: every member's identity proven",
            TimeSpan.FromSeconds(60));
        return members;
    }

    private void Report(FederatedJobStatus status)
    {
        output.WriteLine($"job {status.JobId}: {status.Phase} {status.Reason}");
        foreach (var result in status.Results)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {result.Round}: accuracy {result.Accuracy:F4}, participants {string.Join(',', result.Participants)}, validators {string.Join(',', result.Validators)}, hash {result.ResultHash[..12]}, tx {result.TxHash?[..12]}"));
        }
    }
}
