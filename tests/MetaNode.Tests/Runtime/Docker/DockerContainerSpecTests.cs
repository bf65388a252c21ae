using Docker.DotNet.Models;
using MetaNode.Grains.Runtime.Docker;
using MetaNode.VPods;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MetaNode.Tests.Runtime.Docker;

/// <summary>The docker runtime's pure parts: the container a spec becomes, registries, log lines, stats, options.</summary>
public sealed class DockerContainerSpecTests
{
    private static readonly DockerRuntimeOptions HostOptions = new();
    private static readonly DockerRuntimeOptions BridgeOptions = new() { NetworkMode = DockerNetworkMode.Bridge, PublishAddress = "127.0.0.1" };

    private static VPodSpec Spec() => new()
    {
        Name = "trainer",
        Type = VPodType.Validator,
        DeploymentMethod = DeploymentMethod.Docker,
        Image = "metanode/compute-vpod:latest",
        CpuMillis = 1500,
        MemoryBytes = 512L << 20,
        Env = new Dictionary<string, string> { ["EPOCHS"] = "2" },
        Volumes = [new VolumeMount("/srv/in", "/vpod/input", ReadOnly: true), new VolumeMount("models", "/models")],
        Labels = new Dictionary<string, string> { ["team"] = "ml", ["io.metanode.vpod"] = "spoofed" },
        Cluster = "fl-east",
    };

    [Fact]
    public void Build_MapsLimitsEnvLabelsAndMounts_WhenNetworkIsHost()
    {
        var parameters = DockerContainerSpec.Build("vpod-1", Spec(), HostOptions, 41234);

        Assert.Equal("metanode-vpod-1", parameters.Name);
        Assert.Equal("metanode/compute-vpod:latest", parameters.Image);
        Assert.Equal(1_500_000_000, parameters.HostConfig.NanoCPUs);
        Assert.Equal(512L << 20, parameters.HostConfig.Memory);
        Assert.Equal(512L << 20, parameters.HostConfig.MemorySwap);
        Assert.Equal(RestartPolicyKind.No, parameters.HostConfig.RestartPolicy.Name);
        Assert.Equal("host", parameters.HostConfig.NetworkMode);
        Assert.Null(parameters.HostConfig.PortBindings);
        Assert.Contains("EPOCHS=2", parameters.Env);
        Assert.Contains("METANODE_VPOD_ID=vpod-1", parameters.Env);
        Assert.Contains("METANODE_HOST=127.0.0.1", parameters.Env);
        Assert.Contains("METANODE_PORT=41234", parameters.Env);
        Assert.Contains("METANODE_DATA_DIR=/vpod/data", parameters.Env);
        Assert.Contains("METANODE_KEY_DIR=/vpod/key", parameters.Env);
        Assert.Equal("vpod-1", parameters.Labels["io.metanode.vpod"]);
        Assert.Equal("trainer", parameters.Labels["io.metanode.name"]);
        Assert.Equal("validator", parameters.Labels["io.metanode.type"]);
        Assert.Equal("fl-east", parameters.Labels["io.metanode.cluster"]);
        Assert.Equal("41234", parameters.Labels["io.metanode.port"]);
        Assert.Equal("ml", parameters.Labels["team"]);
        Assert.Collection(
            parameters.HostConfig.Mounts,
            m => Assert.Equal(("bind", "/srv/in", "/vpod/input", true), (m.Type, m.Source, m.Target, m.ReadOnly)),
            m => Assert.Equal(("volume", "models", "/models", false), (m.Type, m.Source, m.Target, m.ReadOnly)),
            m => Assert.Equal(("volume", "metanode-vpod-1-key", "/vpod/key", false), (m.Type, m.Source, m.Target, m.ReadOnly)));
        Assert.Null(parameters.Entrypoint);
        Assert.Null(parameters.Cmd);
    }

    [Fact]
    public void Build_PublishesWorkloadPortOnLoopback_WhenNetworkIsBridge()
    {
        var parameters = DockerContainerSpec.Build("vpod-2", Spec() with { Ports = [8080, 9090] }, BridgeOptions, 8080);

        Assert.Equal("bridge", parameters.HostConfig.NetworkMode);
        Assert.Contains("METANODE_HOST=0.0.0.0", parameters.Env);
        Assert.Equal(["8080/tcp", "9090/tcp"], parameters.ExposedPorts.Keys.Order());
        var binding = Assert.Single(parameters.HostConfig.PortBindings["8080/tcp"]);
        Assert.Equal("127.0.0.1", binding.HostIP);
        Assert.Equal(string.Empty, binding.HostPort);
    }

    [Fact]
    public void Build_ReplacesEntrypointAndAddsStorageVolume_WhenCommandAndStorageAreGiven()
    {
        var spec = Spec() with
        {
            Command = ["/bin/sh", "-c", "exec sleep 60"],
            PersistentStorage = new StorageRequest(1L << 30, "local-ssd", "/state"),
        };

        var parameters = DockerContainerSpec.Build("vpod-3", spec, HostOptions, null);

        Assert.Equal(["/bin/sh"], parameters.Entrypoint);
        Assert.Equal(["-c", "exec sleep 60"], parameters.Cmd);
        Assert.DoesNotContain(parameters.Env, e => e.StartsWith("METANODE_PORT=", StringComparison.Ordinal));
        Assert.Contains("METANODE_DATA_DIR=/state", parameters.Env);
        var storage = parameters.HostConfig.Mounts.Single(m => m.Target == "/state");
        Assert.Equal(("volume", "metanode-vpod-3-data"), (storage.Type, storage.Source));
        Assert.Equal("local-ssd", storage.VolumeOptions.DriverConfig.Name);
        Assert.Equal("vpod-3", storage.VolumeOptions.Labels["io.metanode.vpod"]);
        Assert.Equal((1L << 30).ToString(System.Globalization.CultureInfo.InvariantCulture), storage.VolumeOptions.Labels["io.metanode.storage-size"]);
        Assert.False(DockerContainerSpec.SpeaksWorkloadProtocol(spec));
        Assert.True(DockerContainerSpec.SpeaksWorkloadProtocol(spec with { Command = [] }));
    }

    [Theory]
    [InlineData(VPodType.Compute)]
    [InlineData(VPodType.Validator)]
    public void Build_MountsTheVPodsOwnKeyVolume_LabelledAsTheVPods_WhateverItsType(VPodType type)
    {
        var spec = Spec() with { Type = type, Env = new Dictionary<string, string> { ["METANODE_KEY_DIR"] = "/elsewhere" } };

        var parameters = DockerContainerSpec.Build("vpod-4", spec, BridgeOptions, 8080);

        Assert.Contains("METANODE_KEY_DIR=/vpod/key", parameters.Env);
        Assert.DoesNotContain("METANODE_KEY_DIR=/elsewhere", parameters.Env);
        var key = Assert.Single(parameters.HostConfig.Mounts, m => m.Target == "/vpod/key");
        Assert.Equal(("volume", "metanode-vpod-4-key", false), (key.Type, key.Source, key.ReadOnly));
        Assert.Equal("metanode-vpod-4-key", DockerContainerSpec.KeyVolumeName(BridgeOptions, "vpod-4"));
        Assert.Null(key.VolumeOptions.DriverConfig);
        var labels = key.VolumeOptions.Labels;
        Assert.Equal("vpod-4", labels["io.metanode.vpod"]);
        Assert.Equal("trainer", labels["io.metanode.name"]);
        Assert.Equal(type.ToString().ToLowerInvariant(), labels["io.metanode.type"]);
        Assert.Equal("fl-east", labels["io.metanode.cluster"]);
        Assert.Equal("key", labels["io.metanode.volume"]);
        Assert.False(labels.ContainsKey("io.metanode.port"), "a volume outlives the container, so it carries no port");
    }

    [Fact]
    public void Build_MountsTheSameKeyVolume_InEveryContainerMadeForTheVPod()
    {
        var first = DockerContainerSpec.Build("vpod-5", Spec(), HostOptions, 41000);
        var again = DockerContainerSpec.Build("vpod-5", Spec() with { Command = ["/bin/sh", "-c", "sleep 1"], PersistentStorage = new StorageRequest(1L << 20) }, HostOptions, 41001);
        var other = DockerContainerSpec.Build("vpod-6", Spec(), HostOptions, 41000);

        var key = first.HostConfig.Mounts.Single(m => m.Target == "/vpod/key");
        Assert.Equal(key.Source, again.HostConfig.Mounts.Single(m => m.Target == "/vpod/key").Source);
        Assert.Equal("metanode-vpod-6-key", other.HostConfig.Mounts.Single(m => m.Target == "/vpod/key").Source);
        Assert.Equal(
            [("metanode-vpod-5-data", "/vpod/data"), ("metanode-vpod-5-key", "/vpod/key")],
            again.HostConfig.Mounts.Where(m => m.Source.StartsWith("metanode-vpod-5", StringComparison.Ordinal)).Select(m => (m.Source, m.Target)));
    }

    [Theory]
    [InlineData("/vpod/key")]
    [InlineData("/vpod/key/")]
    public void Build_RefusesASpecThatMountsSomethingOverTheKeyDirectory(string target)
    {
        var volume = Assert.Throws<InvalidVPodSpecException>(() => DockerContainerSpec.Build("vpod-7", Spec() with { Volumes = [new VolumeMount("models", target)] }, HostOptions, null));
        var storage = Assert.Throws<InvalidVPodSpecException>(() => DockerContainerSpec.Build("vpod-7", Spec() with { PersistentStorage = new StorageRequest(1L << 20, MountPath: target) }, HostOptions, null));

        Assert.Contains($"volume 'models:{target}' targets the path of the vPod's key volume (/vpod/key)", volume.Message, StringComparison.Ordinal);
        Assert.Contains($"persistent storage mount path '{target}' is where the vPod's key volume is mounted", storage.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("metanode/compute-vpod:latest", "docker.io")]
    [InlineData("busybox", "docker.io")]
    [InlineData("registry.example.com/ml/trainer:3", "registry.example.com")]
    [InlineData("127.0.0.1:5000/x/y", "127.0.0.1:5000")]
    [InlineData("localhost/x", "localhost")]
    public void RegistryOf_ReturnsRegistryHost(string image, string registry) =>
        Assert.Equal(registry, DockerContainerSpec.RegistryOf(image));

    [Theory]
    [InlineData("metanode/x", "metanode/x", "latest")]
    [InlineData("metanode/x:1.2", "metanode/x", "1.2")]
    [InlineData("host:5000/x", "host:5000/x", "latest")]
    [InlineData("host:5000/x:2", "host:5000/x", "2")]
    [InlineData("x@sha256:abc", "x@sha256:abc", null)]
    public void SplitForPull_AlwaysNamesOneTag(string image, string name, string? tag) =>
        Assert.Equal((name, tag), DockerContainerSpec.SplitForPull(image));

    [Fact]
    public void SelectRegistry_PicksNamedCredentialsForTheImagesRegistry()
    {
        var registries = new Dictionary<string, DockerRegistryOptions>
        {
            ["hub"] = new() { Server = "https://index.docker.io/v1/", Username = "u", Password = "p" },
            ["corp"] = new() { Server = "registry.example.com", Username = "c", Password = "q" },
        };

        Assert.Equal("corp", DockerContainerSpec.SelectRegistry("registry.example.com/ml/t:1", ["corp"], registries)?.Name);
        Assert.Equal("hub", DockerContainerSpec.SelectRegistry("metanode/x:1", [], registries)?.Name);
        Assert.Null(DockerContainerSpec.SelectRegistry("metanode/x:1", ["corp"], registries));
        Assert.Null(DockerContainerSpec.SelectRegistry("other.example.com/x", [], registries));
        var error = Assert.Throws<InvalidVPodSpecException>(() => DockerContainerSpec.SelectRegistry("metanode/x", ["nope"], registries));
        Assert.Contains("MetaNode:Runtime:Docker:Registries:nope", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_KeepsTextAndNanosecondTimestamp_WhenLineHasEngineTimestamp()
    {
        Assert.True(DockerLogLines.TryParse("2026-01-31T12:00:01.123456789Z hello  world\r", LogStream.Stderr, out var line));
        Assert.Equal(new DateTimeOffset(2026, 1, 31, 12, 0, 1, TimeSpan.Zero).AddTicks(1234567), line.Timestamp);
        Assert.Equal(LogStream.Stderr, line.Stream);
        Assert.Equal("hello  world", line.Text);
        Assert.True(DockerLogLines.TryParse("2026-01-31T12:00:01Z", LogStream.Stdout, out var empty));
        Assert.Equal(string.Empty, empty.Text);
        Assert.False(DockerLogLines.TryParse("not a timestamp", LogStream.Stdout, out _));
    }

    [Fact]
    public void From_ComputesCpuPercentMemoryAndNetwork_LikeDockerStats()
    {
        var stats = new ContainerStatsResponse
        {
            CPUStats = new CPUStats { CPUUsage = new CPUUsage { TotalUsage = 1_500_000_000 }, SystemUsage = 12_000_000_000, OnlineCPUs = 2 },
            PreCPUStats = new CPUStats { CPUUsage = new CPUUsage { TotalUsage = 1_000_000_000 }, SystemUsage = 10_000_000_000, OnlineCPUs = 2 },
            MemoryStats = new MemoryStats { Usage = 50_000_000, Limit = 64L << 20, Stats = new Dictionary<string, ulong> { ["total_inactive_file"] = 10_000_000 } },
            Networks = new Dictionary<string, NetworkStats>
            {
                ["eth0"] = new() { RxBytes = 100, TxBytes = 40 },
                ["eth1"] = new() { RxBytes = 5, TxBytes = 2 },
            },
        };

        var usage = DockerUsage.From(stats, 1);

        Assert.Equal(50, usage.CpuPercent);
        Assert.Equal(40_000_000, usage.MemoryBytes);
        Assert.Equal(64L << 20, usage.MemoryLimitBytes);
        Assert.Equal((105, 42), (usage.NetworkRxBytes, usage.NetworkTxBytes));
    }

    [Fact]
    public void ResolveEndpoint_PrefersConfigurationThenDockerHostThenDefault()
    {
        Assert.Equal("tcp://10.0.0.5:2375", new DockerRuntimeOptions { Endpoint = "tcp://10.0.0.5:2375" }.ResolveEndpoint(_ => "unix:///x.sock"));
        Assert.Equal("unix:///x.sock", new DockerRuntimeOptions().ResolveEndpoint(_ => "unix:///x.sock"));
        Assert.Equal(DockerRuntimeOptions.DefaultEndpoint, new DockerRuntimeOptions().ResolveEndpoint(_ => null));
    }

    [Fact]
    public void Validate_NamesEveryBadKey_WhenOptionsAreWrong()
    {
        var options = new DockerRuntimeOptions
        {
            Endpoint = "ftp://engine",
            PublishAddress = "loopback",
            LabelPrefix = "IO_METANODE",
            PullTimeout = TimeSpan.Zero,
            Registries = new Dictionary<string, DockerRegistryOptions> { ["corp"] = new() { Server = "https://registry.example.com/v2/", Username = "u" } },
        };

        var result = new DockerRuntimeOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        var failures = string.Join('\n', result.Failures!);
        Assert.Contains("MetaNode:Runtime:Docker:Endpoint", failures, StringComparison.Ordinal);
        Assert.Contains("ftp://engine", failures, StringComparison.Ordinal);
        Assert.Contains("MetaNode:Runtime:Docker:PublishAddress", failures, StringComparison.Ordinal);
        Assert.Contains("MetaNode:Runtime:Docker:LabelPrefix", failures, StringComparison.Ordinal);
        Assert.Contains("MetaNode:Runtime:Docker:PullTimeout", failures, StringComparison.Ordinal);
        Assert.Contains("MetaNode:Runtime:Docker:Registries:corp:Server", failures, StringComparison.Ordinal);
        Assert.Contains("MetaNode:Runtime:Docker:Registries:corp needs Username and Password", failures, StringComparison.Ordinal);
        Assert.DoesNotContain("Password=", new DockerRegistryOptions { Server = "r", Username = "u", Password = "secret" }.ToString(), StringComparison.Ordinal);
        Assert.True(new DockerRuntimeOptionsValidator().Validate(null, new DockerRuntimeOptions()).Succeeded);
    }

    [Fact]
    public async Task ProvisionAsync_FailsNamingTheEndpoint_WhenNoEngineListens()
    {
        var socket = Path.Combine(Path.GetTempPath(), "metanode-no-engine-" + Guid.NewGuid().ToString("N")[..8] + ".sock");
        using var runtime = new DockerRuntime(Options.Create(new DockerRuntimeOptions { Endpoint = "unix://" + socket, AllowedBindRoots = ["/srv"] }), NullLogger<DockerRuntime>.Instance);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => runtime.ProvisionAsync("vpod-x", Spec()));

        Assert.Contains("unix://" + socket, error.Message, StringComparison.Ordinal);
        Assert.Contains("not reachable", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProvisionAsync_FailsNamingTheEndpoint_WhenDockerHostIsUnusable()
    {
        // As a DOCKER_HOST the runtime cannot use would arrive: constructing succeeds (the silo starts), using it fails clearly.
        using var runtime = new DockerRuntime(Options.Create(new DockerRuntimeOptions { Endpoint = "ssh://builder@10.0.0.9", AllowedBindRoots = ["/srv"] }), NullLogger<DockerRuntime>.Instance);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => runtime.ProvisionAsync("vpod-x", Spec()));

        Assert.Contains("ssh://builder@10.0.0.9", error.Message, StringComparison.Ordinal);
    }
}
