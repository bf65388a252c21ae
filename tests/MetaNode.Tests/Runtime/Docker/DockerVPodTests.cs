using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Docker.DotNet.Models;
using RestartPolicy = MetaNode.VPods.RestartPolicy;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;

namespace MetaNode.Tests.Runtime.Docker;

/// <summary>Docker vPods through the vPod grain on an in-process silo, against a real Docker Engine.</summary>
[Collection(DockerCollection.Name)]
public sealed class DockerVPodTests(DockerClusterFixture fixture)
{
    private static string NewId() => "vpod-" + Guid.NewGuid().ToString("N")[..10];

    private static string NewName(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private IVPodGrain Grain(string id) => fixture.Grains.GetGrain<IVPodGrain>(id);

    private static VPodSpec Busybox(string name, string script, RestartPolicy policy = RestartPolicy.Never, long memoryBytes = 64L << 20, long cpuMillis = 1000) => new()
    {
        Name = name,
        DeploymentMethod = DeploymentMethod.Docker,
        Image = DockerEngine.BusyboxImage,
        Command = ["/bin/sh", "-c", script],
        RestartPolicy = policy,
        MemoryBytes = memoryBytes,
        CpuMillis = cpuMillis,
    };

    private static Task<VPodStatus> WaitForAsync(IVPodGrain grain, Func<VPodStatus, bool> condition, string what, int seconds = 60) =>
        Eventually.WaitAsync(() => grain.GetStatusAsync(), condition, what, TimeSpan.FromSeconds(seconds));

    [Fact]
    public async Task CreateAsync_RunsHealthyContainerWithRequestedLimits_WhenImageIsTheReferenceWorkload()
    {
        var id = NewId();
        var grain = Grain(id);
        var spec = new VPodSpec
        {
            Name = NewName("ref"),
            DeploymentMethod = DeploymentMethod.Docker,
            Image = DockerEngine.ComputeImage,
            CpuMillis = 500,
            MemoryBytes = 256L << 20,
            Env = new Dictionary<string, string> { ["TRAINING_SEED"] = "7" },
            Labels = new Dictionary<string, string> { ["team"] = "ml" },
            Cluster = "fl-east",
            PersistentStorage = new StorageRequest(64L << 20),
        };

        await grain.CreateAsync(spec);
        var running = await WaitForAsync(grain, s => s.Phase == VPodPhase.Running && s.Health == VPodHealth.Healthy, "the docker vPod to be Running and healthy");
        Assert.Equal(DeploymentMethod.Docker, running.Handle!.Method);
        Assert.NotNull(running.Endpoint);
        using (var http = new HttpClient())
        {
            var health = await http.GetFromJsonAsync<JsonElement>($"{running.Endpoint}/healthz");
            Assert.Equal(id, health.GetProperty("vpodId").GetString());
        }

        var container = await fixture.Engine.Client.Containers.InspectContainerAsync(running.Handle.Id);
        Assert.True(container.State.Running);
        Assert.Equal(500_000_000, container.HostConfig.NanoCPUs);
        Assert.Equal(256L << 20, container.HostConfig.Memory);
        Assert.Equal(RestartPolicyKind.No, container.HostConfig.RestartPolicy.Name);
        Assert.Equal("65532:65532", container.Config.User);
        Assert.Equal(["ALL"], container.HostConfig.CapDrop);
        Assert.Contains("no-new-privileges:true", container.HostConfig.SecurityOpt);
        Assert.Equal(id, container.Config.Labels["io.metanode.vpod"]);
        Assert.Equal("fl-east", container.Config.Labels["io.metanode.cluster"]);
        Assert.Equal("ml", container.Config.Labels["team"]);
        Assert.Contains("TRAINING_SEED=7", container.Config.Env);
        Assert.Contains(container.Mounts, m => m.Destination == "/vpod/data" && m.Type == "volume");
        Assert.Contains(container.Mounts, m => m.Destination == "/vpod/key" && m.Type == "volume" && m.Name == $"metanode-{id}-key");
        Assert.Contains("METANODE_KEY_DIR=/vpod/key", container.Config.Env);
        Assert.Single(await fixture.Engine.ContainersOfAsync(id));
        Assert.Equal([$"metanode-{id}-data", $"metanode-{id}-key"], (await fixture.Engine.VolumesOfAsync(id)).Select(v => v.Name).Order(StringComparer.Ordinal));

        // Creating it again with the same spec changes nothing and makes no second container.
        var again = await grain.CreateAsync(spec);
        Assert.Equal(running.Handle.Id, again.Handle!.Id);
        Assert.Single(await fixture.Engine.ContainersOfAsync(id));

        var stopped = await grain.StopAsync(new StopOptions(TimeoutSeconds: 5));
        Assert.Equal(VPodPhase.Stopped, stopped.Phase);
        Assert.False((await fixture.Engine.Client.Containers.InspectContainerAsync(running.Handle.Id)).State.Running);

        await grain.StartAsync();
        var restarted = await WaitForAsync(grain, s => s.Phase == VPodPhase.Running && s.Health == VPodHealth.Healthy, "Running again after start");
        Assert.Equal(running.Handle.Id, restarted.Handle!.Id);

        var deleted = await grain.DeleteAsync(new StopOptions(TimeoutSeconds: 5));
        Assert.Equal(VPodPhase.Deleted, deleted.Phase);
        Assert.Empty(await fixture.Engine.ContainersOfAsync(id));
        Assert.Empty(await fixture.Engine.VolumesOfAsync(id));
    }

    [Fact]
    public async Task WriteDataAsync_UploadsTheFilesIntoTheContainersDataDirectory_RunningOrStopped()
    {
        var id = NewId();
        var grain = Grain(id);
        const string script = "while [ ! -f /vpod/data/manifest.json ]; do sleep 0.1; done; echo \"train=$(cat /vpod/data/train.csv)\"; echo \"manifest=$(cat $METANODE_DATA_DIR/manifest.json)\"; "
            + "echo \"owner=$(id -u) $(stat -c %u:%g /vpod/data/train.csv)\"; [ -w /vpod/data/train.csv ] && touch /vpod/data/by-workload && echo writable; sleep 120";
        await grain.CreateAsync(Busybox(NewName("data"), script));
        var running = await WaitForAsync(grain, s => s.Phase == VPodPhase.Running, "the data reader to be Running");
        var train = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 2000).Select(i => $"{i},0.5,{i % 10}\n")));
        var manifest = "{\"format\":\"metanode-partition/1\"}"u8.ToArray();

        await grain.WriteDataAsync(new VPodDataFiles { Files = [new VPodDataFile("train.csv", train), new VPodDataFile("manifest.json", manifest)] });

        var containerId = running.Handle!.Id;
        Assert.Equal(train, await fixture.Engine.ReadFileAsync(containerId, "/vpod/data/train.csv"));
        Assert.Equal(manifest, await fixture.Engine.ReadFileAsync(containerId, "/vpod/data/manifest.json"));
        var logs = await Eventually.WaitAsync(() => grain.GetLogsAsync(new LogQuery()), l => l.Any(x => x.Text.StartsWith("manifest=", StringComparison.Ordinal)), "the workload to print the files it found");
        Assert.Contains(logs, l => l.Text == "manifest={\"format\":\"metanode-partition/1\"}");
        Assert.Contains(logs, l => l.Text.StartsWith("train=0,0.5,0", StringComparison.Ordinal));

        // The files belong to the workload's (non-root) user: it can change them.
        logs = await Eventually.WaitAsync(() => grain.GetLogsAsync(new LogQuery()), l => l.Any(x => x.Text == "writable"), "the workload to find the files and their directory writable");
        Assert.Contains(logs, l => l.Text == "owner=65532 65532:65532");

        // A stopped container takes files too; writing again replaces them.
        await grain.StopAsync(new StopOptions(Force: true));
        var replaced = "1,1,1\n"u8.ToArray();
        await grain.WriteDataAsync(new VPodDataFiles { Files = [new VPodDataFile("train.csv", replaced), new VPodDataFile("manifest.json", manifest)] });
        Assert.Equal(replaced, await fixture.Engine.ReadFileAsync(containerId, "/vpod/data/train.csv"));

        await grain.DeleteAsync(new StopOptions(Force: true));
        var refused = await Assert.ThrowsAsync<InvalidVPodOperationException>(() => grain.WriteDataAsync(new VPodDataFiles { Files = [new VPodDataFile("manifest.json", manifest)] }));
        Assert.Equal(VPodPhase.Deleted, refused.Phase);
    }

    [Fact]
    public async Task WriteDataAsync_LandsInThePersistentStorageVolume_WhenTheVPodMountsOneAsItsDataDirectory()
    {
        var id = NewId();
        var grain = Grain(id);
        // /state is not in the image, so its fresh volume belongs to root until the upload hands the directory to the workload's user.
        const string script = "while [ ! -f /state/blob.bin ]; do sleep 0.1; done; touch /state/made-by-workload && echo state-writable; sleep 120";
        await grain.CreateAsync(Busybox(NewName("stateful"), script) with { PersistentStorage = new StorageRequest(16L << 20, MountPath: "/state") });
        var running = await WaitForAsync(grain, s => s.Phase == VPodPhase.Running, "the stateful vPod to be Running");
        var bytes = Enumerable.Range(0, 70_000).Select(i => (byte)(i * 31)).ToArray();

        await grain.WriteDataAsync(new VPodDataFiles { Files = [new VPodDataFile("blob.bin", bytes)] });

        var container = await fixture.Engine.Client.Containers.InspectContainerAsync(running.Handle!.Id);
        Assert.Contains("METANODE_DATA_DIR=/state", container.Config.Env);
        Assert.Contains(container.Mounts, m => m.Destination == "/state" && m.Type == "volume");
        Assert.Equal(bytes, await fixture.Engine.ReadFileAsync(running.Handle.Id, "/state/blob.bin"));
        await Eventually.WaitAsync(() => grain.GetLogsAsync(new LogQuery()), l => l.Any(x => x.Text == "state-writable"), "the workload to write into its storage volume");

        // The file lives in the volume: a second container mounting it (the engine's own view) finds the same bytes.
        var volume = container.Mounts.Single(m => m.Destination == "/state").Name;
        var probe = await fixture.Engine.Client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = DockerEngine.BusyboxImage,
            Cmd = ["true"],
            HostConfig = new HostConfig { Mounts = [new Mount { Type = "volume", Source = volume, Target = "/mnt", ReadOnly = true }], NetworkMode = "none" },
        });
        try
        {
            Assert.Equal(bytes, await fixture.Engine.ReadFileAsync(probe.ID, "/mnt/blob.bin"));
        }
        finally
        {
            await fixture.Engine.Client.Containers.RemoveContainerAsync(probe.ID, new ContainerRemoveParameters { Force = true });
        }

        await grain.DeleteAsync(new StopOptions(Force: true));
    }

    [Fact]
    public async Task HealthProbe_ReportsOomKill_WhenContainerExceedsItsMemoryLimit()
    {
        var id = NewId();
        var grain = Grain(id);
        await grain.CreateAsync(Busybox(NewName("hog"), "echo allocating; tail /dev/zero", memoryBytes: 16L << 20));

        var failed = await WaitForAsync(grain, s => s.Phase == VPodPhase.Failed, "the memory hog to be Failed");
        Assert.True(failed.OomKilled, $"status says OOM-killed; reason: {failed.Reason}");
        Assert.Equal(137, failed.LastExitCode);
        Assert.Contains("out of memory", failed.Reason, StringComparison.Ordinal);
        var container = await fixture.Engine.Client.Containers.InspectContainerAsync(failed.Handle!.Id);
        Assert.True(container.State.OOMKilled);
        Assert.Equal(16L << 20, container.HostConfig.Memory);

        await grain.DeleteAsync(new StopOptions(Force: true));
        Assert.Empty(await fixture.Engine.ContainersOfAsync(id));
    }

    [Fact]
    public async Task GetLogsAndMetrics_ReturnDemultiplexedLinesAndUsage_WhenContainerRuns()
    {
        var id = NewId();
        var grain = Grain(id);
        const string script = "echo out-first; echo err-first >&2; (while :; do :; done) & i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done";
        await grain.CreateAsync(Busybox(NewName("chatty"), script, cpuMillis: 500, memoryBytes: 32L << 20));
        await WaitForAsync(grain, s => s.Phase == VPodPhase.Running, "the chatty vPod to be Running");

        var logs = await Eventually.WaitAsync(() => grain.GetLogsAsync(new LogQuery()), l => l.Count(x => x.Text.StartsWith("tick", StringComparison.Ordinal)) >= 3, "three tick lines");
        Assert.Contains(logs, l => l.Stream == LogStream.Stdout && l.Text == "out-first");
        Assert.Contains(logs, l => l.Stream == LogStream.Stderr && l.Text == "err-first");
        Assert.All(logs, l => Assert.DoesNotContain('\0', l.Text));
        Assert.All(logs.Where(l => l.Text.StartsWith("tick", StringComparison.Ordinal)), l => Assert.Equal(LogStream.Stdout, l.Stream));

        var tail = await grain.GetLogsAsync(new LogQuery(Tail: 2));
        Assert.Equal(2, tail.Count);
        var since = logs[^1].Timestamp;
        var newer = await Eventually.WaitAsync(() => grain.GetLogsAsync(new LogQuery(Since: since)), l => l.Count >= 2, "lines after the last one read");
        Assert.All(newer, l => Assert.True(l.Timestamp >= since));

        using (var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            var followed = new List<LogLine>();
            await foreach (var line in grain.FollowLogsAsync(new LogQuery(Tail: 0), cancel.Token))
            {
                followed.Add(line);
                if (followed.Count == 3)
                {
                    break;
                }
            }

            Assert.All(followed, l => Assert.StartsWith("tick", l.Text, StringComparison.Ordinal));
            Assert.All(followed, l => Assert.True(l.Timestamp >= logs[^1].Timestamp));
        }

        var metrics = await grain.GetMetricsAsync();
        Assert.Equal(VPodPhase.Running, metrics.Phase);
        Assert.Equal(32L << 20, metrics.Resources.MemoryLimitBytes);
        Assert.InRange(metrics.Resources.MemoryBytes, 1, 32L << 20);

        // The busy loop wants a whole core (100); the limit gives it half of one, enforced per 100 ms scheduling period, so an
        // engine reading window of a few periods can land up to a period's worth above 50 (seen: 65, 72). Unlimited reads ~100.
        Assert.InRange(metrics.Resources.CpuPercent, 1, 85);
        Assert.True(metrics.Network.RxBytes >= 0 && metrics.Network.TxBytes >= 0);

        await grain.DeleteAsync(new StopOptions(Force: true));
        Assert.Empty(await fixture.Engine.ContainersOfAsync(id));
    }

    [Fact]
    public async Task RestartPolicy_RestartsTheSameContainer_WhenItIsKilledFromOutside()
    {
        var id = NewId();
        var grain = Grain(id);
        await grain.CreateAsync(Busybox(NewName("victim"), "echo up; exec sleep 600", RestartPolicy.OnFailure));
        var running = await WaitForAsync(grain, s => s.Phase == VPodPhase.Running, "the victim to be Running");

        await fixture.Engine.Client.Containers.KillContainerAsync(running.Handle!.Id, new ContainerKillParameters { Signal = "KILL" });

        var back = await WaitForAsync(grain, s => s.Phase == VPodPhase.Running && s.RestartCount >= 1, "the vPod restarted by its policy");
        Assert.Equal(running.Handle.Id, back.Handle!.Id);
        Assert.Contains(back.Transitions, t => t.To == VPodPhase.Failed && t.Reason.Contains("137", StringComparison.Ordinal));
        Assert.True((await fixture.Engine.Client.Containers.InspectContainerAsync(back.Handle.Id)).State.Running);
        Assert.Single(await fixture.Engine.ContainersOfAsync(id));
        var logs = await grain.GetLogsAsync(new LogQuery());
        Assert.Equal(2, logs.Count(l => l.Text == "up"));

        await grain.DeleteAsync(new StopOptions(Force: true));
        Assert.Empty(await fixture.Engine.ContainersOfAsync(id));
    }

    [Fact]
    public async Task KeyVolume_KeepsTheWorkloadsKey_WhenTheContainerIsRecreatedForTheVPod_AndGoesWithTheVPod()
    {
        var id = NewId();
        var grain = Grain(id);
        const string script = "if [ -f \"$METANODE_KEY_DIR/signing.key\" ]; then echo \"found=$(cat \"$METANODE_KEY_DIR/signing.key\")\"; "
            + "else echo key-of-run-1 > \"$METANODE_KEY_DIR/signing.key\"; echo created; fi; exec sleep 600";
        await grain.CreateAsync(Busybox(NewName("keyed"), script, RestartPolicy.OnFailure));
        var running = await WaitForAsync(grain, s => s.Phase == VPodPhase.Running, "the keyed vPod to be Running");
        await Eventually.WaitAsync(() => grain.GetLogsAsync(new LogQuery()), l => l.Any(x => x.Text == "created"), "the first container to write its key");

        // The container goes (removed from outside): the vPod's policy makes a new one, which mounts the same key volume.
        var firstId = running.Handle!.Id;
        await fixture.Engine.Client.Containers.RemoveContainerAsync(firstId, new ContainerRemoveParameters { Force = true });
        var recreated = await WaitForAsync(grain, s => s.Phase == VPodPhase.Running && s.Handle is { } h && h.Id != firstId, "a new container for the vPod");
        var logs = await Eventually.WaitAsync(() => grain.GetLogsAsync(new LogQuery()), l => l.Any(x => x.Text.StartsWith("found=", StringComparison.Ordinal)), "the new container to look for the key");

        Assert.Equal("found=key-of-run-1", Assert.Single(logs, l => l.Text.StartsWith("found=", StringComparison.Ordinal)).Text);
        Assert.Equal([$"metanode-{id}-key"], (await fixture.Engine.VolumesOfAsync(id)).Select(v => v.Name));
        var container = await fixture.Engine.Client.Containers.InspectContainerAsync(recreated.Handle!.Id);
        Assert.Contains(container.Mounts, m => m.Destination == "/vpod/key" && m.Name == $"metanode-{id}-key");

        await grain.DeleteAsync(new StopOptions(Force: true));
        Assert.Empty(await fixture.Engine.ContainersOfAsync(id));
        Assert.Empty(await fixture.Engine.VolumesOfAsync(id));
    }

    [Fact]
    public async Task CreateAsync_FailsNamingTheImage_WhenImageIsMissingAndNoRegistryIsReachable()
    {
        var id = NewId();
        var grain = Grain(id);
        const string image = "127.0.0.1:9/metanode/missing:1";
        var spec = Busybox(NewName("ghost"), "true") with { Image = image };

        var status = await grain.CreateAsync(spec);

        Assert.Equal(VPodPhase.Failed, status.Phase);
        Assert.Contains(image, status.Reason, StringComparison.Ordinal);
        Assert.Contains(fixture.Engine.Endpoint, status.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain(status.Transitions, t => t.To == VPodPhase.Running);
        Assert.Empty(await fixture.Engine.ContainersOfAsync(id));
        await grain.DeleteAsync(new StopOptions());
    }

    [Fact]
    public async Task CreateAsync_RunsOneContainer_WhenManyVPodsAreCreatedConcurrently()
    {
        var ids = Enumerable.Range(0, 6).Select(_ => NewId()).ToList();
        await Task.WhenAll(ids.Select(id => Grain(id).CreateAsync(Busybox(NewName("crowd"), "exec sleep 600"))));
        foreach (var id in ids)
        {
            await WaitForAsync(Grain(id), s => s.Phase == VPodPhase.Running, $"{id} Running");
            Assert.Single(await fixture.Engine.ContainersOfAsync(id));
        }

        await Task.WhenAll(ids.Select(id => Grain(id).DeleteAsync(new StopOptions(Force: true))));
        foreach (var id in ids)
        {
            Assert.Empty(await fixture.Engine.ContainersOfAsync(id));
        }
    }
}
