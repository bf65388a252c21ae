using System.Globalization;
using MetaNode.Grains.Runtime;
using MetaNode.Grains.Runtime.Process;
using MetaNode.VPods;
using static MetaNode.Tests.Runtime.ProcessRuntimeSandbox;
using static MetaNode.Tests.Runtime.ProcessTestWait;

namespace MetaNode.Tests.Runtime;

/// <summary>
/// Process workloads the silo does not trust, on this machine's real kernel: their own uid, cgroup limits, private directories.
/// The suite runs as root (as CI does); a silo that could not isolate fails these tests rather than skipping them.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ProcessIsolationTests : IAsyncLifetime
{
    private readonly ProcessRuntimeSandbox _sandbox = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _sandbox.DisposeAsync();

    [Fact]
    public async Task IsolatedWorkload_CannotReadTheSilosFiles_AnotherVPodsKey_OrTheSilosEnvironment()
    {
        var runtime = _sandbox.CreateRuntime();
        Assert.True(runtime.Isolated, "the suite runs as root, so workloads must run isolated: " + runtime.LimitsNotEnforced);
        Assert.Null(runtime.LimitsNotEnforced);

        // What a silo keeps: its data directory (0700) with the database and the certificate keys.
        var siloData = Path.Combine(_sandbox.Root, "silo-data");
        Directory.CreateDirectory(siloData, ProcessIsolation.PrivateDirectory);
        var database = Path.Combine(siloData, "metanode.db");
        File.WriteAllText(database, "silo-database-secret");
        File.SetUnixFileMode(database, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var owner = Shell("echo owner-key-secret > \"$METANODE_KEY_DIR/key.json\"; echo stored; sleep 60");
        var ownerHandle = await runtime.StartAsync("vpod-owner", owner, null);
        await LineAsync(runtime, "vpod-owner", "stored");
        var ownerKey = Path.Combine(runtime.GetKeyDirectory("vpod-owner"), "key.json");

        var silo = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        var intruder = Shell(
            $"id -u; cat '{database}'; cat '{ownerKey}'; ls '{runtime.GetKeyDirectory("vpod-owner")}'; cat /proc/{silo}/environ; echo done");
        var handle = await runtime.StartAsync("vpod-intruder", intruder, null);
        await StateAsync(runtime, "vpod-intruder", handle, WorkloadState.Exited);
        var lines = await LogsAsync(runtime, "vpod-intruder", l => l.Any(x => x.Text == "done"), "the intruder to finish");
        var text = string.Join('\n', lines.Select(l => l.Text));

        Assert.DoesNotContain("silo-database-secret", text, StringComparison.Ordinal);
        Assert.DoesNotContain("owner-key-secret", text, StringComparison.Ordinal);
        Assert.DoesNotContain("METANODE", text, StringComparison.Ordinal);
        foreach (var path in new[] { database, ownerKey, runtime.GetKeyDirectory("vpod-owner"), $"/proc/{silo}/environ" })
        {
            Assert.Contains(lines, l => l.Stream == LogStream.Stderr && l.Text.Contains(path, StringComparison.Ordinal) && l.Text.Contains("Permission denied", StringComparison.Ordinal));
        }

        var intruderUid = long.Parse(lines.First(l => l.Stream == LogStream.Stdout).Text, CultureInfo.InvariantCulture);
        var ownerUid = long.Parse(File.ReadAllText(Path.Combine(runtime.GetVPodDirectory("vpod-owner"), "uid")), CultureInfo.InvariantCulture);
        Assert.InRange(intruderUid, 200_000, 200_000 + 65_535);
        Assert.NotEqual(ownerUid, intruderUid);

        // The owner itself reads its key: the directory is its own, 0700.
        Assert.Equal("owner-key-secret", File.ReadAllText(ownerKey).Trim());
        Assert.Equal(ProcessIsolation.PrivateDirectory, File.GetUnixFileMode(runtime.GetKeyDirectory("vpod-owner")));
        await runtime.StopAsync("vpod-owner", ownerHandle, TimeSpan.FromSeconds(5), force: true);
    }

    [Fact]
    public async Task WorkloadCannotReplaceItsDirectories_WithLinksTheSiloWouldFollow()
    {
        var runtime = _sandbox.CreateRuntime();
        var spec = Shell("mv \"$METANODE_DATA_DIR\" \"$METANODE_DATA_DIR.old\" || echo refused; ls .. || echo unlisted");
        var handle = await runtime.StartAsync("vpod-swap", spec, null);
        await StateAsync(runtime, "vpod-swap", handle, WorkloadState.Exited);
        var lines = await LogsAsync(runtime, "vpod-swap", l => l.Any(x => x.Text == "unlisted"), "the workload's attempts");
        Assert.Contains(lines, l => l.Text == "refused");
        Assert.True(Directory.Exists(Path.Combine(runtime.GetVPodDirectory("vpod-swap"), "data")));
    }

    [Fact]
    public async Task MemoryHog_IsOomKilledAtItsLimit_AndTheRuntimeSaysSo()
    {
        var runtime = _sandbox.CreateRuntime();
        var spec = new VPodSpec { Name = "hog", Command = ["/usr/bin/tail", "/dev/zero"], MemoryBytes = 64L << 20 };
        var handle = await runtime.StartAsync("vpod-hog", spec, null);
        var observation = await StateAsync(runtime, "vpod-hog", handle, WorkloadState.Exited);

        Assert.True(observation.OomKilled, observation.Detail);
        Assert.Equal(137, observation.ExitCode);
        Assert.Contains("OOM killer", observation.Detail, StringComparison.Ordinal);
        Assert.Equal((64L << 20).ToString(CultureInfo.InvariantCulture), ReadLimit(runtime, "memory", "vpod-hog", MemoryLimitFile));
    }

    [Fact]
    public async Task ForkBomb_StopsAtThePidsLimit()
    {
        var runtime = _sandbox.CreateRuntime(o => o.Isolation.PidsLimit = 16);
        var spec = Shell("i=0; while [ $i -lt 40 ]; do sleep 60 & i=$((i+1)); done; echo forked; sleep 60");
        var handle = await runtime.StartAsync("vpod-forks", spec, null);
        var lines = await LogsAsync(runtime, "vpod-forks", l => l.Any(x => x.Text.Contains("fork", StringComparison.OrdinalIgnoreCase) && x.Stream == LogStream.Stderr), "fork failures");
        Assert.Contains(lines, l => l.Stream == LogStream.Stderr && l.Text.Contains("fork", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("16", ReadLimit(runtime, "pids", "vpod-forks", "pids.max"));
        var cgroup = runtime.GetCgroupDirectory("vpod-forks", "pids")!;
        Assert.Contains(File.ReadAllLines(Path.Combine(cgroup, "pids.events")), l => l.StartsWith("max ", StringComparison.Ordinal) && l != "max 0");
        if (File.Exists(Path.Combine(cgroup, "pids.peak")))
        {
            Assert.InRange(long.Parse(File.ReadAllText(Path.Combine(cgroup, "pids.peak")), CultureInfo.InvariantCulture), 2, 16);
        }

        await runtime.StopAsync("vpod-forks", handle, TimeSpan.FromSeconds(5), force: true);
        await runtime.RemoveAsync("vpod-forks", handle);
        Assert.False(Directory.Exists(cgroup), "the vPod's cgroup goes with it");
    }

    [Fact]
    public async Task ADescendantThatLeftTheProcessGroup_StaysInTheCgroup_AndIsKilledBeforeTheNextRun()
    {
        var runtime = _sandbox.CreateRuntime();
        // Report the sleeper only once it has left the group (field 5 of its stat is its process group; the shell leads its own).
        var spec = Shell("setsid sleep 300 & p=$!; while [ \"$(cut -d' ' -f5 /proc/$p/stat)\" = \"$$\" ]; do :; done; echo \"escaped=$p\"; exit 0");
        var first = await runtime.StartAsync("vpod-escape", spec, null);
        var lines = await LogsAsync(runtime, "vpod-escape", l => l.Any(x => x.Text.StartsWith("escaped=", StringComparison.Ordinal)), "the escaped sleeper's pid");
        await StateAsync(runtime, "vpod-escape", first, WorkloadState.Exited);
        var escaped = int.Parse(lines.First(l => l.Text.StartsWith("escaped=", StringComparison.Ordinal)).Text["escaped=".Length..], CultureInfo.InvariantCulture);
        Assert.True(IsAlive(escaped), "setsid took the sleeper out of the workload's process group, so the group kill missed it");
        Assert.Contains(escaped.ToString(CultureInfo.InvariantCulture), File.ReadAllLines(Path.Combine(runtime.GetCgroupDirectory("vpod-escape", "pids")!, "cgroup.procs")));

        var second = await runtime.StartAsync("vpod-escape", spec, first);
        await UntilAsync(() => Task.FromResult(!IsAlive(escaped)), ProcessRuntimeSandbox.WaitTimeout, "the escaped sleeper to be killed when the vPod starts again");
        await runtime.RemoveAsync("vpod-escape", second);
    }

    [Fact]
    public async Task CpuQuota_AndMembership_AreTheSpecs()
    {
        var runtime = _sandbox.CreateRuntime();
        var spec = Shell("echo up; sleep 60") with { CpuMillis = 500 };
        var handle = await runtime.StartAsync("vpod-cpu", spec, null);
        await LineAsync(runtime, "vpod-cpu", "up");
        Assert.Equal(Hierarchy().Version == CgroupVersion.V1 ? "50000" : "50000 100000", ReadLimit(runtime, "cpu", "vpod-cpu", CpuLimitFile));
        Assert.Contains(handle.Id, File.ReadAllLines(Path.Combine(runtime.GetCgroupDirectory("vpod-cpu", "cpu")!, "cgroup.procs")));
        await runtime.StopAsync("vpod-cpu", handle, TimeSpan.FromSeconds(5), force: true);
    }

    [Fact]
    public async Task CpuBurst_IsTheWholeQuotaByDefault_SpentAfterIdling_AndFollowsAKeptCgroupsQuotaDown()
    {
        var runtime = _sandbox.CreateRuntime();

        // First a larger quota and its burst (800 millicores: 80 ms each), kept when the vPod stops.
        var large = await runtime.StartAsync("vpod-burst", Shell("echo up; sleep 60") with { CpuMillis = 800 }, null);
        await LineAsync(runtime, "vpod-burst", "up");
        var cpu = runtime.GetCgroupDirectory("vpod-burst", "cpu")!;
        if (!File.Exists(Path.Combine(cpu, BurstFile)))
        {
            // A kernel without burst (before 5.14): the default writes none, and a burst asked for is refused.
            var refused = Assert.Throws<InvalidOperationException>(() => _sandbox.CreateRuntime(o => o.Isolation.CpuBurstPercent = 50));
            Assert.Contains("no CFS burst", refused.Message, StringComparison.Ordinal);
            await runtime.StopAsync("vpod-burst", large, TimeSpan.FromSeconds(5), force: true);
            return;
        }

        Assert.Equal("80000", ReadLimit(runtime, "cpu", "vpod-burst", BurstFile));
        await runtime.StopAsync("vpod-burst", large, TimeSpan.FromSeconds(5), force: true);

        // Then 100 millicores: the kernel refuses a quota below the cgroup's burst, so the old burst must go first. The workload
        // idles for a few periods, saving up its quota, then needs several quotas of cpu: at least one period spends the saving.
        var busy = Shell("echo up; sleep 0.5; i=0; while [ $i -lt 60000 ]; do i=$((i+1)); done; echo done; sleep 60") with { CpuMillis = 100 };
        var handle = await runtime.StartAsync("vpod-burst", busy, null);
        await LineAsync(runtime, "vpod-burst", "up");
        Assert.Equal(Hierarchy().Version == CgroupVersion.V1 ? "10000" : "10000 100000", ReadLimit(runtime, "cpu", "vpod-burst", CpuLimitFile));
        Assert.Equal("10000", ReadLimit(runtime, "cpu", "vpod-burst", BurstFile));
        await LineAsync(runtime, "vpod-burst", "done");
        Assert.True(CpuStat(cpu, "nr_throttled") >= 1, "the loop needs more than one quota of cpu");
        Assert.True(CpuStat(cpu, "nr_bursts") >= 1, "a period spent saved-up quota");
        await runtime.StopAsync("vpod-burst", handle, TimeSpan.FromSeconds(5), force: true);

        // Turned off: the same work is throttled and never bursts.
        var off = _sandbox.CreateRuntime(o => o.Isolation.CpuBurstPercent = 0);
        var steady = await off.StartAsync("vpod-no-burst", busy, null);
        await LineAsync(off, "vpod-no-burst", "done");
        var steadyCpu = off.GetCgroupDirectory("vpod-no-burst", "cpu")!;
        Assert.Equal("0", ReadLimit(off, "cpu", "vpod-no-burst", BurstFile));
        Assert.True(CpuStat(steadyCpu, "nr_throttled") >= 1, "the loop needs more than one quota of cpu");
        Assert.Equal(0, CpuStat(steadyCpu, "nr_bursts"));
        await off.StopAsync("vpod-no-burst", steady, TimeSpan.FromSeconds(5), force: true);
    }

    [Fact]
    public async Task ARuntimeStarting_RemovesEmptyCgroupsLeftByWorkloadsThatEndedWhileNoSiloRan_ButNotLiveOrRecentOnes()
    {
        var before = _sandbox.CreateRuntime();
        var ids = new[] { "vpod-left", "vpod-live", "vpod-recent" };
        var handles = new Dictionary<string, RuntimeHandle>();
        foreach (var id in ids)
        {
            handles[id] = await before.StartAsync(id, Shell("echo up; exec sleep 60"), null);
            await LineAsync(before, id, "up");
        }

        var directories = ids.ToDictionary(id => id, id => CgroupHierarchy.Controllers.Select(c => before.GetCgroupDirectory(id, c)!).Distinct().ToList());

        // Two workloads end with no silo to see it (killed from outside); their cgroups stay, empty. The third runs on.
        foreach (var id in new[] { "vpod-left", "vpod-recent" })
        {
            foreach (var pid in File.ReadAllLines(Path.Combine(directories[id][0], "cgroup.procs")))
            {
                System.Diagnostics.Process.GetProcessById(int.Parse(pid, CultureInfo.InvariantCulture)).Kill();
            }

            await UntilAsync(() => Task.FromResult(directories[id].All(d => File.ReadAllText(Path.Combine(d, "cgroup.procs")).Trim().Length == 0)), WaitTimeout, $"{id}'s cgroup to empty");
        }

        // The left-behind and the live cgroups were made an hour ago; the recent one just now (it may be another silo's, about to be joined).
        foreach (var directory in directories["vpod-left"].Concat(directories["vpod-live"]))
        {
            Directory.SetLastWriteTimeUtc(directory, DateTime.UtcNow.AddHours(-1));
        }

        _sandbox.CreateRuntime();

        Assert.All(directories["vpod-left"], d => Assert.False(Directory.Exists(d), $"{d} was left behind"));
        Assert.All(directories["vpod-live"].Concat(directories["vpod-recent"]), d => Assert.True(Directory.Exists(d), $"{d} was removed"));
        Assert.True(IsAlive(int.Parse(handles["vpod-live"].Id, CultureInfo.InvariantCulture)), "the live workload runs on");
        foreach (var id in ids)
        {
            await before.RemoveAsync(id, handles[id]);
        }
    }

    [Fact]
    public async Task IsolationOff_RunsAsTheSilosUser_AndSaysLimitsAreNotEnforced()
    {
        var runtime = _sandbox.CreateRuntime(o => o.Isolation.Mode = ProcessIsolationMode.Off);
        Assert.False(runtime.Isolated);
        Assert.Contains("Isolation:Mode=Off", runtime.LimitsNotEnforced, StringComparison.Ordinal);
        var handle = await runtime.StartAsync("vpod-plain", Shell("id -u"), null);
        await StateAsync(runtime, "vpod-plain", handle, WorkloadState.Exited);
        await LineAsync(runtime, "vpod-plain", "0");
    }

    [Fact]
    public void ValidateSpec_RefusesWhatAProcessCannotBeGiven()
    {
        var runtime = _sandbox.CreateRuntime();
        var spec = Shell("true");
        runtime.ValidateSpec("vpod-ok", spec);
        var refused = new (VPodSpec Spec, string Field)[]
        {
            (spec with { Replicas = 3 }, "spec.replicas is 3"),
            (spec with { Volumes = [new VolumeMount("/etc", "/mnt")] }, "spec.volumes"),
            (spec with { PersistentStorage = new StorageRequest(1L << 30) }, "spec.persistentStorage"),
            (spec with { NetworkPolicy = new NetworkPolicySpec() }, "spec.networkPolicy"),
            (spec with { ImagePullSecrets = ["registry"] }, "spec.imagePullSecrets"),
        };
        foreach (var (bad, field) in refused)
        {
            var error = Assert.Throws<InvalidVPodSpecException>(() => runtime.ValidateSpec("vpod-bad", bad));
            Assert.Contains(field, error.Message, StringComparison.Ordinal);
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            var state = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            return !state[(state.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static CgroupHierarchy Hierarchy() =>
        CgroupHierarchy.Detect(File.ReadAllText("/proc/self/mountinfo"), File.ReadAllText("/proc/self/cgroup"));

    private static string MemoryLimitFile => Hierarchy().Version == CgroupVersion.V1 ? "memory.limit_in_bytes" : "memory.max";

    private static string BurstFile => Hierarchy().Version == CgroupVersion.V1 ? "cpu.cfs_burst_us" : "cpu.max.burst";

    /// <summary>A counter of the cgroup's <c>cpu.stat</c> (throttled and burst periods).</summary>
    private static long CpuStat(string cgroup, string counter) =>
        File.ReadAllLines(Path.Combine(cgroup, "cpu.stat"))
            .Select(line => line.Split(' '))
            .Where(parts => parts.Length == 2 && parts[0] == counter)
            .Select(parts => long.Parse(parts[1], CultureInfo.InvariantCulture))
            .Single();

    private static string CpuLimitFile => Hierarchy().Version == CgroupVersion.V1 ? "cpu.cfs_quota_us" : "cpu.max";

    private static string ReadLimit(ProcessRuntime runtime, string controller, string vpodId, string file) =>
        File.ReadAllText(Path.Combine(runtime.GetCgroupDirectory(vpodId, controller)!, file)).Trim();
}
