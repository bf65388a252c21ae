using System.Text.Json;
using System.Text.Json.Nodes;
using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Cli;

/// <summary>
/// <c>cluster deploy</c> with storage and network-policy flags, through a real silo process whose kubernetes runtime talks
/// to the in-process API server: every member's stored spec carries them, and so do the objects the runtime creates.
/// </summary>
public sealed class ClusterDeployKubernetesTests : IAsyncLifetime
{
    private const string Namespace = "vpods";
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-e2e", "k8s-cluster-" + Guid.NewGuid().ToString("N")[..10]);
    private FakeKubernetesApiServer _server = null!;
    private SiloProcess _silo = null!;

    public async Task InitializeAsync()
    {
        _server = await FakeKubernetesApiServer.StartAsync();
        _silo = new SiloProcess(
            _dataDirectory,
            $"--MetaNode:Runtime:Kubernetes:BaseUrl={_server.BaseUrl}",
            $"--MetaNode:Runtime:Kubernetes:Namespace={Namespace}",
            "--MetaNode:VPods:ProbeInterval=00:00:00.500");
        await _silo.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _silo.DisposeAsync();
        await _server.DisposeAsync();
        try
        {
            MetaNode.Tests.Infrastructure.SiloProcess.DeleteSiloDirectories(_dataDirectory);
        }
        catch (IOException)
        {
            // A file still held open by the exiting silo: the temporary directory is left for the OS to clean.
        }
    }

    [Fact]
    public async Task ClusterDeploy_CarriesStorageAndNetworkPolicyIntoEveryMembersSpec_AndItsKubernetesObjects()
    {
        var cli = Infrastructure.SiloProcessCli.Cli(_silo);

        var deployed = await cli.JsonAsync(
            "cluster", "deploy", "--name", "flk", "--count", "2", "--type", "compute", "--cpu", "100m", "--memory", "64Mi",
            "--deployment-method", "kubernetes", "--image", "metanode/compute-vpod:latest", "--port", "9000",
            "--storage", "2Gi:fast-ssd", "--storage-mount", "/var/lib/fl",
            "--network-policy", "ingress:role=aggregator,tier=ml", "--network-policy", "egress:10.20.0.0/16", "--network-policy", "egress:192.0.2.10:8545");

        AssertStorageAndPolicy(deployed.GetProperty("spec"));
        foreach (var id in new[] { "vpod-flk-0", "vpod-flk-1" })
        {
            var status = await Eventually.WaitAsync(() => cli.StatusAsync(id), s => s.TryGetProperty("spec", out var spec) && spec.ValueKind == JsonValueKind.Object, $"member {id} to exist with a spec");
            var member = status.GetProperty("spec");
            Assert.Equal("Kubernetes", member.GetProperty("deploymentMethod").GetString());
            Assert.Equal("flk", member.GetProperty("cluster").GetString());
            AssertStorageAndPolicy(member);

            var statefulSet = await Eventually.WaitAsync(
                () => Task.FromResult(_server.Get($"apis/apps/v1/namespaces/{Namespace}/statefulsets/{id}")), s => s is not null, $"the StatefulSet of {id}");
            var claim = statefulSet!["spec"]!["volumeClaimTemplates"]![0]!["spec"]!;
            Assert.Equal("2Gi", claim["resources"]!["requests"]!["storage"]!.GetValue<string>());
            Assert.Equal("fast-ssd", claim["storageClassName"]!.GetValue<string>());
            var mounts = statefulSet["spec"]!["template"]!["spec"]!["containers"]![0]!["volumeMounts"]!.AsArray();
            Assert.Contains(mounts, m => m!["mountPath"]!.GetValue<string>() == "/var/lib/fl");

            var policy = await Eventually.WaitAsync(
                () => Task.FromResult(_server.Get($"apis/networking.k8s.io/v1/namespaces/{Namespace}/networkpolicies/{id}")), p => p is not null, $"the NetworkPolicy of {id}");
            var from = policy!["spec"]!["ingress"]![0]!["from"]!.AsArray();
            Assert.Contains(from, peer => MatchLabels(peer) == "role=aggregator,tier=ml");
            var egress = policy["spec"]!["egress"]!.AsArray()
                .Where(rule => rule!["to"] is JsonArray)
                .Select(rule => (rule!["to"]![0]!["ipBlock"]!["cidr"]!.GetValue<string>(), rule["ports"]?[0]?["port"]?.GetValue<int>()))
                .ToList();
            Assert.Equal([("10.20.0.0/16", (int?)null), ("192.0.2.10/32", 8545)], egress);
        }
    }

    private static void AssertStorageAndPolicy(JsonElement spec)
    {
        var storage = spec.GetProperty("persistentStorage");
        Assert.Equal(2L << 30, storage.GetProperty("sizeBytes").GetInt64());
        Assert.Equal("fast-ssd", storage.GetProperty("storageClass").GetString());
        Assert.Equal("/var/lib/fl", storage.GetProperty("mountPath").GetString());
        var policy = spec.GetProperty("networkPolicy");
        Assert.True(policy.GetProperty("enabled").GetBoolean());
        Assert.Equal(["role=aggregator,tier=ml"], policy.GetProperty("ingressFrom").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["10.20.0.0/16", "192.0.2.10:8545"], policy.GetProperty("egressTo").EnumerateArray().Select(e => e.GetString()));
    }

    private static string MatchLabels(JsonNode? peer) =>
        string.Join(',', peer!["podSelector"]!["matchLabels"]!.AsObject().OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value!.GetValue<string>()}"));
}
