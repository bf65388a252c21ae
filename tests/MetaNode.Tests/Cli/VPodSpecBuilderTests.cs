using MetaNode.Client;
using MetaNode.VPods;

namespace MetaNode.Tests.Cli;

public sealed class VPodSpecBuilderTests
{
    [Fact]
    public void Build_ReturnsParsedSpec_WhenEveryValueIsValid()
    {
        var spec = new VPodSpecBuilder("worker-1")
            .WithType("Storage")
            .WithCpu("0.5")
            .WithMemory("4Gi")
            .WithDeploymentMethod("docker")
            .WithImage("registry.local/metanode/worker:1.2")
            .WithCommand("sh -c 'echo \"hi there\"' a\\ b")
            .WithRestartPolicy("never")
            .AddEnv("EMPTY=")
            .AddEnv("URL=http://x/?a=b")
            .AddPort("8080")
            .AddVolume("data-1:/vpod/data")
            .AddVolume("/etc/metanode:/config:ro")
            .AddLabel("example.com/name=worker")
            .Build();

        Assert.Equal("worker-1", spec.Name);
        Assert.Equal(VPodType.Storage, spec.Type);
        Assert.Equal(500, spec.CpuMillis);
        Assert.Equal(4L << 30, spec.MemoryBytes);
        Assert.Equal(DeploymentMethod.Docker, spec.DeploymentMethod);
        Assert.Equal("registry.local/metanode/worker:1.2", spec.Image);
        Assert.Equal(["sh", "-c", "echo \"hi there\"", "a b"], spec.Command);
        Assert.Equal(RestartPolicy.Never, spec.RestartPolicy);
        Assert.Equal(string.Empty, spec.Env["EMPTY"]);
        Assert.Equal("http://x/?a=b", spec.Env["URL"]);
        Assert.Equal([8080], spec.Ports);
        Assert.Equal([new VolumeMount("data-1", "/vpod/data"), new VolumeMount("/etc/metanode", "/config", ReadOnly: true)], spec.Volumes);
        Assert.Equal("worker", spec.Labels["example.com/name"]);
    }

    [Fact]
    public void Build_KeepsSpecDefaults_WhenOnlyNameIsGiven()
    {
        var spec = new VPodSpecBuilder("n").Build();
        var defaults = new VPodSpec { Name = "n" };

        Assert.Equal(defaults.CpuMillis, spec.CpuMillis);
        Assert.Equal(defaults.MemoryBytes, spec.MemoryBytes);
        Assert.Equal(VPodType.Compute, spec.Type);
        Assert.Equal(DeploymentMethod.Process, spec.DeploymentMethod);
        Assert.Equal(RestartPolicy.OnFailure, spec.RestartPolicy);
        Assert.Empty(spec.Command);
        Assert.Null(spec.Image);
    }

    [Theory]
    [InlineData("500m", 500)]
    [InlineData("0.5", 500)]
    [InlineData("2", 2000)]
    [InlineData("1.25", 1250)]
    public void WithCpu_ParsesCoresAndMillicores(string text, long millis) =>
        Assert.Equal(millis, new VPodSpecBuilder("n").WithCpu(text).Build().CpuMillis);

    [Theory]
    [InlineData("256Mi", 256L << 20)]
    [InlineData("4Gi", 4L << 30)]
    [InlineData("1G", 1_000_000_000L)]
    [InlineData("1048576", 1L << 20)]
    public void WithMemory_ParsesSuffixes(string text, long bytes) =>
        Assert.Equal(bytes, new VPodSpecBuilder("n").WithMemory(text).Build().MemoryBytes);

    [Theory]
    [InlineData("on-failure", RestartPolicy.OnFailure)]
    [InlineData("ALWAYS", RestartPolicy.Always)]
    [InlineData("never", RestartPolicy.Never)]
    public void WithRestartPolicy_ParsesNames(string text, RestartPolicy policy) =>
        Assert.Equal(policy, new VPodSpecBuilder("n").WithRestartPolicy(text).Build().RestartPolicy);

    [Theory]
    [InlineData("--memory", "12XB")]
    [InlineData("--memory", "-1Mi")]
    [InlineData("--memory", "Gi")]
    [InlineData("--memory", "")]
    [InlineData("--cpu", "abc")]
    [InlineData("--cpu", "0")]
    [InlineData("--cpu", "-2")]
    [InlineData("--env", "NOVALUE")]
    [InlineData("--env", "=x")]
    [InlineData("--env", "1A=b")]
    [InlineData("--env", "A-B=c")]
    [InlineData("--port", "-1")]
    [InlineData("--port", "65536")]
    [InlineData("--port", "http")]
    [InlineData("--volume", "/only-source")]
    [InlineData("--volume", "/a:relative")]
    [InlineData("--volume", "/a:/b:xx")]
    [InlineData("--volume", ":/b")]
    [InlineData("--volume", "/a:/b:ro:extra")]
    [InlineData("--label", "novalue")]
    [InlineData("--label", "-bad=x")]
    [InlineData("--label", "k=has space")]
    [InlineData("--label", "app.kubernetes.io/name=reserved")]
    [InlineData("--cluster", "dotted.cluster")]
    [InlineData("--storage-mount", "/has space")]
    [InlineData("--restart-policy", "sometimes")]
    [InlineData("--type", "gpu")]
    [InlineData("--deployment-method", "vm")]
    [InlineData("--name", "Bad_Name")]
    [InlineData("--name", "-leading")]
    [InlineData("--command", "'unclosed")]
    [InlineData("--command", "   ")]
    [InlineData("--image", "has space")]
    public void Build_ThrowsNamingFlagAndValue_WhenValueIsInvalid(string flag, string value)
    {
        var builder = new VPodSpecBuilder("n");
        switch (flag)
        {
            case "--memory": builder.WithMemory(value); break;
            case "--cpu": builder.WithCpu(value); break;
            case "--env": builder.AddEnv(value); break;
            case "--port": builder.AddPort(value); break;
            case "--volume": builder.AddVolume(value); break;
            case "--label": builder.AddLabel(value); break;
            case "--restart-policy": builder.WithRestartPolicy(value); break;
            case "--type": builder.WithType(value); break;
            case "--deployment-method": builder.WithDeploymentMethod(value); break;
            case "--name": builder.WithName(value); break;
            case "--command": builder.WithCommand(value); break;
            case "--image": builder.WithImage(value); break;
            case "--cluster": builder.WithCluster(value); break;
            case "--storage-mount": builder.WithStorage("1Gi").WithStorageMount(value); break;
            default: throw new ArgumentOutOfRangeException(nameof(flag), flag, "no such flag in this test");
        }

        var error = Assert.Throws<InvalidVPodSpecException>(() => builder.Build());
        Assert.StartsWith(flag + ":", error.Message);
        Assert.Contains($"'{value}'", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Theory]
    [InlineData("--env", "A=1", "A=2")]
    [InlineData("--port", "8080", "8080")]
    [InlineData("--volume", "/a:/data", "/b:/data")]
    [InlineData("--label", "k=1", "k=2")]
    public void Build_Throws_WhenSameKeyIsGivenTwice(string flag, string first, string second)
    {
        var builder = new VPodSpecBuilder("n");
        Action<string> add = flag switch
        {
            "--env" => v => builder.AddEnv(v),
            "--port" => v => builder.AddPort(v),
            "--volume" => v => builder.AddVolume(v),
            _ => v => builder.AddLabel(v),
        };
        add(first);
        add(second);

        var error = Assert.Throws<InvalidVPodSpecException>(() => builder.Build());
        Assert.StartsWith(flag + ":", error.Message);
        Assert.Contains("more than once", error.Message);
    }

    [Fact]
    public void Build_Throws_WhenNameIsMissing() =>
        Assert.StartsWith("--name:", Assert.Throws<InvalidVPodSpecException>(() => new VPodSpecBuilder().WithCpu("1").Build()).Message);

    [Theory]
    [InlineData("docker")]
    [InlineData("kubernetes")]
    public void Build_RequiresImage_ForContainerRuntimes(string method)
    {
        var error = Assert.Throws<InvalidVPodSpecException>(() => new VPodSpecBuilder("n").WithDeploymentMethod(method).Build());
        Assert.StartsWith("--image:", error.Message);
        Assert.Contains(method, error.Message);
    }

    [Fact]
    public void Build_RejectsImageAndCommandTogether_ForProcessVPods()
    {
        var error = Assert.Throws<InvalidVPodSpecException>(() =>
            new VPodSpecBuilder("n").WithImage("/usr/bin/worker").WithCommand("worker --x").Build());
        Assert.Contains("--image", error.Message);
        Assert.Contains("--command", error.Message);
    }

    [Fact]
    public void Build_ListsEveryProblem_WhenSeveralValuesAreInvalid()
    {
        var error = Assert.Throws<InvalidVPodSpecException>(() =>
            new VPodSpecBuilder("n").WithCpu("x").WithMemory("12XB").AddPort("-1").Build());

        Assert.Contains("--cpu", error.Message);
        Assert.Contains("--memory", error.Message);
        Assert.Contains("--port", error.Message);
    }

    [Fact]
    public void VPodIds_NewId_IsPrefixedShortLowerCaseHex()
    {
        var ids = Enumerable.Range(0, 50).Select(_ => VPodIds.NewId()).ToList();

        Assert.All(ids, id => Assert.Matches("^vpod-[0-9a-f]{8}$", id));
        Assert.All(ids, id => Assert.True(VPodIds.IsValid(id)));
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("vpod-")]
    [InlineData("pod-1234")]
    [InlineData("vpod-ABCD")]
    [InlineData("vpod-a_b")]
    [InlineData("vpod-a b")]
    public void VPodIds_Validate_RejectsMalformedIds(string? id)
    {
        var error = Assert.Throws<ArgumentException>(() => VPodIds.Validate(id));
        Assert.Equal("id", error.ParamName);
    }
}
