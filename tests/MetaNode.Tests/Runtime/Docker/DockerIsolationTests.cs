using MetaNode.Grains.Runtime.Docker;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using RestartPolicy = MetaNode.VPods.RestartPolicy;

namespace MetaNode.Tests.Runtime.Docker;

/// <summary>
/// What a docker vPod's container may reach and do, against a real Docker Engine: host paths only under the silo's allowed
/// bind root, no capabilities, no new privileges, a pids limit, a non-root user in the shipped images.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class DockerIsolationTests(DockerClusterFixture fixture)
{
    private static string NewId() => "vpod-" + Guid.NewGuid().ToString("N")[..10];

    private IVPodGrain Grain(string id) => fixture.Grains.GetGrain<IVPodGrain>(id);

    private static VPodSpec Busybox(string script, params VolumeMount[] volumes) => new()
    {
        Name = "iso-" + Guid.NewGuid().ToString("N")[..8],
        DeploymentMethod = DeploymentMethod.Docker,
        Image = DockerEngine.BusyboxImage,
        Command = ["/bin/sh", "-c", script],
        RestartPolicy = RestartPolicy.Never,
        MemoryBytes = 64L << 20,
        Volumes = volumes,
    };

    private static Task<VPodStatus> WaitForRunningAsync(IVPodGrain grain) =>
        Eventually.WaitAsync(() => grain.GetStatusAsync(), s => s.Phase == VPodPhase.Running, "the vPod to be Running", TimeSpan.FromSeconds(60));

    [Theory]
    [InlineData("/")]
    [InlineData("/var/run/docker.sock")]
    [InlineData("/etc")]
    [InlineData("{engine-socket}")]
    [InlineData("{bind-root}/link-to-root")]
    [InlineData("{bind-root}/link-to-root/etc")]
    public async Task CreateAsync_RefusesAHostPathOutsideTheAllowedRoots_BeforeAnythingIsRecordedOrCreated(string source)
    {
        var link = Path.Combine(fixture.BindRoot, "link-to-root");
        if (!Path.Exists(link) && new FileInfo(link).LinkTarget is null)
        {
            File.CreateSymbolicLink(link, "/");
        }

        source = source
            .Replace("{engine-socket}", fixture.Engine.Endpoint["unix://".Length..], StringComparison.Ordinal)
            .Replace("{bind-root}", fixture.BindRoot, StringComparison.Ordinal);
        var id = NewId();
        var grain = Grain(id);

        var refused = await Assert.ThrowsAsync<InvalidVPodSpecException>(() => grain.CreateAsync(Busybox("sleep 600", new VolumeMount(source, "/host"))));

        Assert.Contains($"'{source}", refused.Message, StringComparison.Ordinal);
        Assert.Contains("docker", refused.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(await fixture.Engine.ContainersOfAsync(id));
        Assert.Empty(await fixture.Engine.VolumesOfAsync(id));
        await Assert.ThrowsAsync<VPodNotFoundException>(() => grain.GetStatusAsync());
    }

    [Fact]
    public async Task CreateAsync_RefusesAnotherVPodsKeyVolume_AndCreatesNothing()
    {
        var owner = NewId();
        var ownerGrain = Grain(owner);
        await ownerGrain.CreateAsync(Busybox("echo secret > $METANODE_KEY_DIR/signing.key; exec sleep 600"));
        await WaitForRunningAsync(ownerGrain);
        var id = NewId();
        var grain = Grain(id);

        var refused = await Assert.ThrowsAsync<InvalidVPodSpecException>(() => grain.CreateAsync(Busybox("cat /stolen/signing.key; sleep 600", new VolumeMount($"metanode-{owner}-key", "/stolen", ReadOnly: true))));

        Assert.Contains($"metanode-{owner}-key", refused.Message, StringComparison.Ordinal);
        Assert.Empty(await fixture.Engine.ContainersOfAsync(id));
        await Assert.ThrowsAsync<VPodNotFoundException>(() => grain.GetStatusAsync());
        await ownerGrain.DeleteAsync(new StopOptions(Force: true));
    }

    [Fact]
    public async Task CreateAsync_RefusesANetworkPolicyAndReplicas_NamingTheDockerRuntime_AndCreatesNothing()
    {
        var id = NewId();
        var grain = Grain(id);

        var policy = await Assert.ThrowsAsync<InvalidVPodSpecException>(() => grain.CreateAsync(Busybox("sleep 600") with { NetworkPolicy = new NetworkPolicySpec { IngressFrom = ["role=client"] } }));
        var replicas = await Assert.ThrowsAsync<InvalidVPodSpecException>(() => grain.CreateAsync(Busybox("sleep 600") with { Replicas = 2 }));

        Assert.Contains("network policy cannot be enforced by the docker runtime", policy.Message, StringComparison.Ordinal);
        Assert.Contains("docker runtime runs one container", replicas.Message, StringComparison.Ordinal);
        Assert.Empty(await fixture.Engine.ContainersOfAsync(id));
        await Assert.ThrowsAsync<VPodNotFoundException>(() => grain.GetStatusAsync());
    }

    [Fact]
    public async Task CreateAsync_BindMountsAHostDirectory_UnderTheAllowedRoot()
    {
        var input = Directory.CreateDirectory(Path.Combine(fixture.BindRoot, "input-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        await File.WriteAllTextAsync(Path.Combine(input, "hello.txt"), "hello from the host\n");
        var id = NewId();
        var grain = Grain(id);

        await grain.CreateAsync(Busybox("cat /input/hello.txt; sleep 600", new VolumeMount(input, "/input", ReadOnly: true)));
        var running = await WaitForRunningAsync(grain);

        var logs = await Eventually.WaitAsync(() => grain.GetLogsAsync(new LogQuery()), l => l.Count > 0, "the workload to print the host file");
        Assert.Equal("hello from the host", logs[0].Text);
        var container = await fixture.Engine.Client.Containers.InspectContainerAsync(running.Handle!.Id);
        Assert.Contains(container.Mounts, m => m.Type == "bind" && m.Source == DockerBindPolicy.RealPath(input) && m.Destination == "/input" && !m.RW);

        await grain.DeleteAsync(new StopOptions(Force: true));
        Assert.Empty(await fixture.Engine.ContainersOfAsync(id));
    }

    [Fact]
    public async Task Container_HasNoCapabilitiesNoNewPrivilegesAPidsLimit_AndTheImagesNonRootUser()
    {
        var id = NewId();
        var grain = Grain(id);

        await grain.CreateAsync(Busybox("grep -E 'CapEff|CapPrm|NoNewPrivs' /proc/self/status; echo \"uid=$(id -u)\"; sleep 3600"));
        var running = await WaitForRunningAsync(grain);

        var container = await fixture.Engine.Client.Containers.InspectContainerAsync(running.Handle!.Id);
        Assert.Contains(container.HostConfig.SecurityOpt, o => o is "no-new-privileges:true" or "no-new-privileges");
        Assert.Equal(["ALL"], container.HostConfig.CapDrop);
        Assert.True(container.HostConfig.CapAdd is null || container.HostConfig.CapAdd.Count == 0, "no capability is added back");
        Assert.False(container.HostConfig.Privileged);
        Assert.Equal(512L, container.HostConfig.PidsLimit);
        Assert.Equal("65532:65532", container.Config.User);

        var logs = await Eventually.WaitAsync(() => grain.GetLogsAsync(new LogQuery()), l => l.Any(x => x.Text.StartsWith("uid=", StringComparison.Ordinal)), "the workload to print its status");
        var text = logs.Select(l => l.Text.Replace('\t', ' ')).ToList();
        Assert.Contains("CapEff: 0000000000000000", text);
        Assert.Contains("CapPrm: 0000000000000000", text);
        Assert.Contains("NoNewPrivs: 1", text);
        Assert.Contains("uid=65532", text);

        await grain.DeleteAsync(new StopOptions(Force: true));
    }

    [Fact]
    public async Task Container_CannotRunMoreProcessesThanItsPidsLimit()
    {
        var id = NewId();
        var grain = Grain(id);

        // 600 sleepers against the limit of 512: a subshell forks them until a fork fails (which ends the subshell); the shell
        // then reads the cgroup's counters with builtins only (no fork left to spare) and execs its sleep.
        const string script = "( i=0; while [ $i -lt 600 ]; do sleep 300 & i=$((i+1)); done ) 2>/dev/null; "
            + "f=/sys/fs/cgroup/pids; [ -f $f/pids.max ] || f=/sys/fs/cgroup; read max < $f/pids.max; read pids < $f/pids.current; "
            + "echo \"pids=$pids\"; echo \"max=$max\"; exec sleep 600";
        await grain.CreateAsync(Busybox(script) with { MemoryBytes = 256L << 20 });
        await WaitForRunningAsync(grain);

        var logs = await Eventually.WaitAsync(() => grain.GetLogsAsync(new LogQuery()), l => l.Any(x => x.Text.StartsWith("max=", StringComparison.Ordinal)), "the workload to report its pids", TimeSpan.FromSeconds(120));
        Assert.Contains(logs, l => l.Text == "max=512");
        var pids = int.Parse(logs.Single(l => l.Text.StartsWith("pids=", StringComparison.Ordinal)).Text["pids=".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(pids, 400, 512);

        await grain.DeleteAsync(new StopOptions(Force: true));
    }
}
