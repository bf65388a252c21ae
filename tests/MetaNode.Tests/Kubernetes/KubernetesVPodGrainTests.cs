using k8s.Models;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using Orleans.TestingHost;

namespace MetaNode.Tests.Kubernetes;

/// <summary>Kubernetes vPods through the vPod grain, on a silo whose kubernetes runtime talks to the in-process API server.</summary>
public sealed class KubernetesVPodGrainTests : IAsyncLifetime
{
    private const string Pods = "/api/v1/namespaces/vpods/pods";
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-tests", Guid.NewGuid().ToString("N")[..12]);
    private FakeKubernetesApiServer _server = null!;
    private InProcessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _server = await FakeKubernetesApiServer.StartAsync();
        _cluster = await new TestSiloBuilder()
            .WithSettings(new Dictionary<string, string?>
            {
                ["MetaNode:VPods:ProbeInterval"] = "00:00:00.200",
                ["MetaNode:VPods:StartupProbeInterval"] = "00:00:00.100",
                ["MetaNode:Runtime:Kubernetes:BaseUrl"] = _server.BaseUrl.ToString(),
                ["MetaNode:Runtime:Kubernetes:Namespace"] = "vpods",
            })
            .WithMetaNode(_dataDirectory)
            .StartAsync();
    }

    public async Task DisposeAsync()
    {
        await TestSiloBuilder.StopAsync(_cluster);
        await _server.DisposeAsync();
        TestSiloBuilder.CleanUp(_dataDirectory);
    }

    private static VPodSpec Spec(string name) => new()
    {
        Name = name,
        DeploymentMethod = DeploymentMethod.Kubernetes,
        Image = "metanode/compute-vpod:latest",
        Replicas = 2,
        RestartPolicy = RestartPolicy.Never,
    };

    private static string NewId() => "vpod-" + Guid.NewGuid().ToString("N")[..8];

    private void PutPod(string id, V1ContainerState state, string phase) => _server.Put(Pods, new V1Pod
    {
        Metadata = new V1ObjectMeta { Name = id + "-0", Labels = new Dictionary<string, string> { ["metanode.io/vpod-id"] = id, ["app.kubernetes.io/managed-by"] = "metanode" } },
        Status = new V1PodStatus
        {
            Phase = phase,
            ContainerStatuses = [new V1ContainerStatus { Name = "workload", Image = "metanode/compute-vpod:latest", State = state }],
        },
    });

    [Fact]
    public async Task CreateAsync_RunsTheVPodAsADeployment_AndDeleteRemovesIt()
    {
        var id = NewId();
        var grain = _cluster.Client.GetGrain<IVPodGrain>(id);

        var created = await grain.CreateAsync(Spec("k8s-runs-" + id[5..]));

        Assert.Equal(($"deployment/{id}", "vpods"), (created.Handle!.Id, created.Handle.Node));
        Assert.Equal(2, _server.Get($"/apis/apps/v1/namespaces/vpods/deployments/{id}")!["spec"]!["replicas"]!.GetValue<int>());
        PutPod(id, new V1ContainerState { Running = new V1ContainerStateRunning() }, "Running");
        await Eventually.WaitAsync(() => grain.GetStatusAsync(), s => s.Phase == VPodPhase.Running, "the vPod to be Running once its pod runs");

        var deleted = await grain.DeleteAsync(new StopOptions(TimeoutSeconds: 1));

        Assert.Equal(VPodPhase.Deleted, deleted.Phase);
        Assert.Null(_server.Get($"/apis/apps/v1/namespaces/vpods/deployments/{id}"));
    }

    [Fact]
    public async Task WriteDataAsync_IsRefusedNamingTheKubernetesRuntime_AndChangesNothing()
    {
        var id = NewId();
        var grain = _cluster.Client.GetGrain<IVPodGrain>(id);
        await grain.CreateAsync(Spec("k8s-data-" + id[5..]));
        PutPod(id, new V1ContainerState { Running = new V1ContainerStateRunning() }, "Running");
        var running = await Eventually.WaitAsync(() => grain.GetStatusAsync(), s => s.Phase == VPodPhase.Running, "the vPod to be Running once its pod runs");

        var refused = await Assert.ThrowsAsync<InvalidVPodOperationException>(() => grain.WriteDataAsync(new VPodDataFiles { Files = [new VPodDataFile("manifest.json", "{}"u8.ToArray())] }));

        Assert.Equal(id, refused.VPodId);
        Assert.Contains($"vPod '{id}' runs on the kubernetes runtime, which cannot place data files", refused.Message, StringComparison.Ordinal);
        var after = await grain.GetStatusAsync();
        Assert.Equal((VPodPhase.Running, running.Handle), (after.Phase, after.Handle));
        await grain.DeleteAsync(new StopOptions(TimeoutSeconds: 1));
    }

    [Fact]
    public async Task CreateAsync_FailsNamingTheImage_WhenItCannotBePulled()
    {
        var id = NewId();
        var grain = _cluster.Client.GetGrain<IVPodGrain>(id);
        await grain.CreateAsync(Spec("k8s-pull-" + id[5..]));

        PutPod(id, new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "ImagePullBackOff", Message = "Back-off pulling image" } }, "Pending");

        var status = await Eventually.WaitAsync(() => grain.GetStatusAsync(), s => s.Phase == VPodPhase.Failed, "the vPod to fail on the image pull");
        Assert.Contains("image 'metanode/compute-vpod:latest' cannot be pulled", status.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/var/run/docker.sock", "volume '/var/run/docker.sock:/mnt' is refused")]
    [InlineData("data-metanode-postgres-0", "volume 'data-metanode-postgres-0:/mnt' is refused")]
    public async Task CreateAsync_RefusesAHostPathOrAForeignClaim_BeforeRecordingOrCallingTheApi(string source, string expected)
    {
        var id = NewId();
        var grain = _cluster.Client.GetGrain<IVPodGrain>(id);

        var error = await Assert.ThrowsAsync<InvalidVPodSpecException>(() => grain.CreateAsync(Spec("k8s-volume-" + id[5..]) with { Volumes = [new VolumeMount(source, "/mnt")] }));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_server.Requests, r => r.Path.Contains(id, StringComparison.Ordinal) || r.Body.Contains(id, StringComparison.Ordinal));
        await Assert.ThrowsAsync<VPodNotFoundException>(() => grain.GetStatusAsync());

        // Nothing was kept either: not even the name, which a valid spec can take at once.
        await grain.CreateAsync(Spec("k8s-volume-" + id[5..]));
        await grain.DeleteAsync(new StopOptions(TimeoutSeconds: 1));
    }

    [Fact]
    public async Task CreateAsync_RefusesALabelWithAReservedKey_BeforeRecordingOrCallingTheApi()
    {
        var id = NewId();
        var grain = _cluster.Client.GetGrain<IVPodGrain>(id);

        var error = await Assert.ThrowsAsync<InvalidVPodSpecException>(() => grain.CreateAsync(Spec("k8s-label-" + id[5..]) with { Labels = new Dictionary<string, string> { ["app.kubernetes.io/component"] = "silo" } }));

        Assert.Contains("label key 'app.kubernetes.io/component' is reserved", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_server.Requests, r => r.Path.Contains(id, StringComparison.Ordinal) || r.Body.Contains(id, StringComparison.Ordinal));
        await Assert.ThrowsAsync<VPodNotFoundException>(() => grain.GetStatusAsync());
    }
}

/// <summary>A silo with no Kubernetes configuration still starts; a kubernetes vPod there fails with a message naming the settings.</summary>
[Collection(VPodClusterCollection.Name)]
public sealed class KubernetesUnconfiguredSiloTests(VPodClusterFixture fixture)
{
    [Fact]
    public async Task CreateAsync_FailsNamingTheMissingSettings_WhenTheSiloHasNoKubernetesConfiguration()
    {
        var id = "vpod-" + Guid.NewGuid().ToString("N")[..8];
        var grain = fixture.Grains.GetGrain<IVPodGrain>(id);

        var status = await grain.CreateAsync(new VPodSpec
        {
            Name = "k8s-unconfigured-" + id[5..],
            DeploymentMethod = DeploymentMethod.Kubernetes,
            Image = "metanode/compute-vpod:latest",
            RestartPolicy = RestartPolicy.Never,
        });

        Assert.Equal(VPodPhase.Failed, status.Phase);
        Assert.Contains("MetaNode:Runtime:Kubernetes:BaseUrl", status.Reason, StringComparison.Ordinal);
        await grain.DeleteAsync(new StopOptions());
    }
}
