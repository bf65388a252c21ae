using MetaNode.Cli;
using MetaNode.VPods;

namespace MetaNode.Tests.Cli;

/// <summary><c>vpod create</c>'s flags for container runtimes, and how <c>vpod status</c> shows a container.</summary>
public sealed class VPodCreateContainerFlagsTests
{
    private readonly CliRunner _cli = new();

    [Fact]
    public async Task Create_MapsEveryContainerFlagOntoTheSpec_WhenFlagsAreValid()
    {
        var result = await _cli.RunAsync(
            "vpod", "create", "--name", "trainer-9", "--type", "compute", "--cpu", "2", "--memory", "1Gi",
            "--deployment-method", "kubernetes", "--image", "registry.example.com:5000/ml/trainer:3",
            "--pull-secret", "corp-registry", "--pull-secret", "mirror",
            "--volume", "models:/models", "--volume", "/srv/data:/vpod/input:ro",
            "--replicas", "3", "--high-availability", "--storage", "10Gi:fast-ssd", "--storage-mount", "/var/lib/vpod",
            "--network-policy", "ingress:role=validator", "--network-policy", "ingress:app=web,tier=front",
            "--network-policy", "egress:10.0.0.0/8", "--network-policy", "egress:192.0.2.10:8545", "--network-policy", "egress:[2001:db8::1]:443",
            "--cluster", "fl-east", "--output", "json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var spec = Assert.IsType<VPodSpec>(_cli.Client.DeployedSpec);
        Assert.Equal(DeploymentMethod.Kubernetes, spec.DeploymentMethod);
        Assert.Equal("registry.example.com:5000/ml/trainer:3", spec.Image);
        Assert.Equal(["corp-registry", "mirror"], spec.ImagePullSecrets);
        Assert.Equal([new VolumeMount("models", "/models"), new VolumeMount("/srv/data", "/vpod/input", ReadOnly: true)], spec.Volumes);
        Assert.Equal(3, spec.Replicas);
        Assert.True(spec.HighAvailability);
        Assert.Equal(new StorageRequest(10L << 30, "fast-ssd", "/var/lib/vpod"), spec.PersistentStorage);
        var policy = Assert.IsType<NetworkPolicySpec>(spec.NetworkPolicy);
        Assert.True(policy.Enabled);
        Assert.Equal(["role=validator", "app=web,tier=front"], policy.IngressFrom);
        Assert.Equal(["10.0.0.0/8", "192.0.2.10:8545", "[2001:db8::1]:443"], policy.EgressTo);
        Assert.Equal("fl-east", spec.Cluster);
        Assert.Empty(VPodSpecValidation.Validate(spec));
    }

    [Fact]
    public async Task Create_LeavesContainerFieldsAtDefaults_WhenFlagsAreAbsent()
    {
        var result = await _cli.RunAsync("vpod", "create", "--name", "plain", "--type", "compute", "--cpu", "1", "--memory", "64Mi",
            "--deployment-method", "docker", "--image", "metanode/compute-vpod:latest", "--output", "json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var spec = Assert.IsType<VPodSpec>(_cli.Client.DeployedSpec);
        Assert.Equal(DeploymentMethod.Docker, spec.DeploymentMethod);
        Assert.Empty(spec.ImagePullSecrets);
        Assert.Equal(1, spec.Replicas);
        Assert.False(spec.HighAvailability);
        Assert.Null(spec.PersistentStorage);
        Assert.Null(spec.NetworkPolicy);
        Assert.Null(spec.Cluster);
    }

    [Fact]
    public async Task Create_MakesDenyAllPolicy_WhenOnlyDenyAllIsGiven()
    {
        var result = await _cli.RunAsync("vpod", "create", "--name", "sealed", "--type", "compute", "--cpu", "1", "--memory", "64Mi",
            "--deployment-method", "kubernetes", "--image", "i:1", "--network-policy", "deny-all");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var policy = Assert.IsType<NetworkPolicySpec>(_cli.Client.DeployedSpec!.NetworkPolicy);
        Assert.True(policy.Enabled);
        Assert.Empty(policy.IngressFrom);
        Assert.Empty(policy.EgressTo);
    }

    [Theory]
    [InlineData("--replicas", "0", "--replicas: invalid value '0'")]
    [InlineData("--replicas", "many", "--replicas: invalid value 'many'")]
    [InlineData("--replicas", "101", "--replicas: invalid value '101'")]
    [InlineData("--pull-secret", "Corp_Registry", "--pull-secret: invalid value 'Corp_Registry'")]
    [InlineData("--storage", "lots", "--storage: invalid value 'lots'")]
    [InlineData("--storage", "1Mi", "--storage: invalid value '1Mi'")]
    [InlineData("--storage", "10Gi:Fast SSD", "--storage: invalid value '10Gi:Fast SSD'")]
    [InlineData("--storage", "10Gi:a:b", "--storage: invalid value '10Gi:a:b'")]
    [InlineData("--network-policy", "allow-everything", "--network-policy: invalid value 'allow-everything'")]
    [InlineData("--network-policy", "egress:10.0.0.0/99", "--network-policy: invalid value 'egress:10.0.0.0/99'")]
    [InlineData("--network-policy", "egress:chain.local", "--network-policy: invalid value 'egress:chain.local'")]
    [InlineData("--network-policy", "ingress:novalue", "--network-policy: invalid value 'ingress:novalue'")]
    [InlineData("--network-policy", "ingress:app=a,app=b", "--network-policy: invalid value 'ingress:app=a,app=b'")]
    [InlineData("--network-policy", "egress:chain.local:8545", "--network-policy: invalid value 'egress:chain.local:8545'")]
    [InlineData("--network-policy", "egress:10.1", "--network-policy: invalid value 'egress:10.1'")]
    [InlineData("--network-policy", "egress:[192.0.2.10]:443", "--network-policy: invalid value 'egress:[192.0.2.10]:443'")]
    [InlineData("--network-policy", "egress:192.0.2.10:70000", "--network-policy: invalid value 'egress:192.0.2.10:70000'")]
    [InlineData("--volume", "data", "--volume: invalid value 'data'")]
    [InlineData("--volume", "data:relative/path", "--volume: invalid value 'data:relative/path'")]
    [InlineData("--volume", "data:/x:rx", "--volume: invalid value 'data:/x:rx'")]
    [InlineData("--cluster", "East_1", "--cluster: invalid value 'East_1'")]
    [InlineData("--storage-mount", "/data", "--storage-mount: give --storage SIZE[:CLASS] too")]
    public async Task Create_ExitsWithOneLineUsageErrorNamingTheFlag_WhenContainerFlagIsInvalid(string flag, string value, string expected)
    {
        var result = await _cli.RunAsync("vpod", "create", "--name", "bad", "--type", "compute", "--cpu", "1", "--memory", "64Mi",
            "--deployment-method", "docker", "--image", "metanode/compute-vpod:latest", flag, value);

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.Empty(_cli.Connections);
        Assert.Null(_cli.Client.DeployedSpec);
    }

    [Theory]
    [InlineData("docker")]
    [InlineData("process")]
    public async Task Create_ExitsWithUsageError_WhenNetworkPolicyIsAskedOfARuntimeThatCannotEnforceIt(string method)
    {
        var result = await _cli.RunAsync("vpod", "create", "--name", "fenced", "--type", "compute", "--cpu", "1", "--memory", "64Mi",
            "--deployment-method", method, "--image", "metanode/compute-vpod:latest", "--network-policy", "deny-all");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains("--network-policy", line, StringComparison.Ordinal);
        Assert.Contains("kubernetes", line, StringComparison.Ordinal);
        Assert.Null(_cli.Client.DeployedSpec);
    }

    [Fact]
    public async Task Create_ExitsWithUsageError_WhenDockerVPodHasNoImage()
    {
        var result = await _cli.RunAsync("vpod", "create", "--name", "noimage", "--type", "compute", "--cpu", "1", "--memory", "64Mi", "--deployment-method", "docker");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("--image", Assert.Single(result.ErrorLines), StringComparison.Ordinal);
        Assert.Null(_cli.Client.DeployedSpec);
    }

    [Fact]
    public async Task StatusTable_ShowsContainerIdAndOomExit_WhenDockerVPodWasOomKilled()
    {
        const string id = "vpod-00c0ffee";
        const string container = "3f2a9c81d0e4b5a6c7d8e9f00112233445566778899aabbccddeeff001122334";
        _cli.Client.VPods[id] = FakeMetaNodeClient.SampleStatus(id, VPodPhase.Failed) with
        {
            DeploymentMethod = DeploymentMethod.Docker,
            Handle = new RuntimeHandle(DeploymentMethod.Docker, container, "unix:///run/docker.sock", DateTimeOffset.UnixEpoch),
            LastExitCode = 137,
            OomKilled = true,
            Reason = "workload was killed: out of memory (exit code 137, memory limit 16Mi)",
        };

        var result = await _cli.RunAsync("vpod", "status", "--id", id);

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Contains("Container", result.Stdout, StringComparison.Ordinal);
        Assert.Contains(container, result.Stdout, StringComparison.Ordinal);
        Assert.Contains("137 (killed: out of memory)", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("memory limit 16Mi", result.Stdout, StringComparison.Ordinal);

        var json = await _cli.RunAsync("vpod", "status", "--id", id, "--output", "json");
        using var document = System.Text.Json.JsonDocument.Parse(json.Stdout);
        Assert.True(document.RootElement.GetProperty("oomKilled").GetBoolean());
        Assert.Equal(137, document.RootElement.GetProperty("lastExitCode").GetInt32());
        Assert.Equal(container, document.RootElement.GetProperty("handle").GetProperty("id").GetString());
    }
}
