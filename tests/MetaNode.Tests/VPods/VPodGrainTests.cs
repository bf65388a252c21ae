using MetaNode.Grains.Runtime;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;

namespace MetaNode.Tests.VPods;

/// <summary>The vPod grain on a real silo with SQLite storage, running real processes.</summary>
[Collection(VPodClusterCollection.Name)]
public sealed class VPodGrainTests(VPodClusterFixture fixture)
{
    private static string NewId() => "vpod-" + Guid.NewGuid().ToString("N")[..10];

    private static string NewName(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private IVPodGrain Grain(string id) => fixture.Grains.GetGrain<IVPodGrain>(id);

    private static VPodSpec Shell(string name, string script, RestartPolicy policy = RestartPolicy.Never, params int[] ports) => new()
    {
        Name = name,
        Command = ["/bin/sh", "-c", script],
        RestartPolicy = policy,
        Ports = ports,
        MemoryBytes = 64L << 20,
    };

    private static Task<VPodStatus> WaitForAsync(IVPodGrain grain, Func<VPodStatus, bool> condition, string what) =>
        Eventually.WaitAsync(() => grain.GetStatusAsync(), condition, what);

    [Fact]
    public async Task WriteDataAsync_LandsInTheProcessVPodsDataDirectory_AndIsRefusedOnceTheVPodIsDeleted()
    {
        var id = NewId();
        var grain = Grain(id);
        await grain.CreateAsync(Shell(NewName("data"), "sleep 60"));
        await WaitForAsync(grain, s => s.Phase == VPodPhase.Running, "the sleeper to be Running");
        var files = new VPodDataFiles { Files = [new VPodDataFile("test.csv", "5,6,1\n"u8.ToArray()), new VPodDataFile("manifest.json", "{}"u8.ToArray())] };

        await grain.WriteDataAsync(files);

        var data = Path.Combine(MetaNode.Grains.Runtime.Process.ProcessRuntimeRoot.DefaultFor(fixture.DataDirectory), "vpods", id, "data");
        Assert.Equal(["manifest.json", "test.csv"], Directory.GetFiles(data).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.All(files.Files, f => Assert.Equal(f.Content, File.ReadAllBytes(Path.Combine(data, f.Name))));

        var bad = await Assert.ThrowsAsync<InvalidVPodDataException>(() => grain.WriteDataAsync(new VPodDataFiles { Files = [new VPodDataFile("sub/dir.csv", [1])] }));
        Assert.Contains("'sub/dir.csv' contains a path separator", bad.Message, StringComparison.Ordinal);

        await grain.DeleteAsync(new StopOptions(Force: true));
        var refused = await Assert.ThrowsAsync<InvalidVPodOperationException>(() => grain.WriteDataAsync(files));
        Assert.Equal(VPodPhase.Deleted, refused.Phase);
        Assert.Equal($"vPod '{id}' cannot receive data files while Deleted: it has no workload to hold them.", refused.Message);
        Assert.False(Directory.Exists(data), "nothing was written for the deleted vPod");
    }

    [Fact]
    public async Task ReferenceWorkload_RunsHealthy_ThroughItsWholeLifecycle()
    {
        var id = NewId();
        var grain = Grain(id);
        var created = await grain.CreateAsync(new VPodSpec { Name = NewName("ref"), Type = VPodType.Compute });
        Assert.Equal(id, created.Id);
        Assert.Single(created.Spec!.Ports);
        Assert.Equal($"http://127.0.0.1:{created.Spec.Ports[0]}", created.Endpoint);

        var running = await WaitForAsync(grain, s => s.Phase == VPodPhase.Running, "the reference workload to be Running");
        Assert.Equal(VPodHealth.Healthy, running.Health);
        Assert.Equal(0, running.RestartCount);
        using (var http = new HttpClient())
        {
            var body = await http.GetStringAsync($"{running.Endpoint}/healthz");
            Assert.Contains(id, body, StringComparison.Ordinal);
        }

        var logs = await Eventually.WaitAsync(() => grain.GetLogsAsync(new LogQuery()), l => l.Any(x => x.Text.Contains("/healthz", StringComparison.Ordinal)), "a request log line for /healthz");
        Assert.All(logs, l => Assert.NotEqual(LogStream.None, l.Stream));

        var vpodDirectory = Path.Combine(MetaNode.Grains.Runtime.Process.ProcessRuntimeRoot.DefaultFor(fixture.DataDirectory), "vpods", id);
        Assert.True(Directory.Exists(Path.Combine(vpodDirectory, "data")), "the workload's data directory is beside the silo's data directory");
        Assert.True(File.Exists(Path.Combine(vpodDirectory, "logs", "vpod.log")), "the workload's log is beside the silo's data directory");
        Assert.False(Directory.Exists(Path.Combine(fixture.DataDirectory, "vpods", id)), "nothing of the vPod is under the silo's data directory");

        var metrics = await grain.GetMetricsAsync();
        Assert.True(metrics.Resources.MemoryBytes > 0, "a running workload uses memory");
        Assert.Equal(created.Spec.MemoryBytes, metrics.Resources.MemoryLimitBytes);

        var firstPid = running.Handle!.Id;
        await grain.RestartAsync();
        var restarted = await WaitForAsync(grain, s => s.Phase == VPodPhase.Running, "Running after restart");
        Assert.Equal(1, restarted.RestartCount);
        Assert.NotEqual(firstPid, restarted.Handle!.Id);
        Assert.Contains(restarted.Transitions, t => t.Trigger == VPodTrigger.Restart && t.Reason == "restart requested (stop timeout 10s)");

        // A forced restart kills the workload at once, as a forced stop does; a timeout out of range changes nothing.
        await Assert.ThrowsAsync<InvalidVPodSpecException>(() => grain.RestartAsync(new StopOptions(TimeoutSeconds: -1)));
        Assert.Equal(1, (await grain.GetStatusAsync()).RestartCount);
        await grain.RestartAsync(new StopOptions(Force: true));
        var forced = await WaitForAsync(grain, s => s.Phase == VPodPhase.Running && s.RestartCount == 2, "Running after a forced restart");
        Assert.Contains(forced.Transitions, t => t.Trigger == VPodTrigger.Restart && t.Reason == "forced restart requested");
        Assert.NotEqual(restarted.Handle!.Id, forced.Handle!.Id);

        var stopped = await grain.StopAsync(new StopOptions(TimeoutSeconds: 5));
        Assert.Equal(VPodPhase.Stopped, stopped.Phase);
        Assert.Equal(0, stopped.LastExitCode);
        Assert.Contains(stopped.Transitions, t => t.To == VPodPhase.Stopping && t.Trigger == VPodTrigger.Stop);

        var deleted = await grain.DeleteAsync(new StopOptions());
        Assert.Equal(VPodPhase.Deleted, deleted.Phase);
        Assert.False(Directory.Exists(vpodDirectory), "delete removes the vPod's data and logs");

        var error = await Assert.ThrowsAsync<InvalidVPodOperationException>(() => grain.StartAsync());
        Assert.Equal(VPodPhase.Deleted, error.Phase);
        Assert.Equal(VPodTrigger.Start, error.Operation);
        Assert.Equal(VPodPhase.Deleted, (await grain.GetStatusAsync()).Phase);

        var list = await fixture.Grains.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default).ListAsync();
        Assert.DoesNotContain(list, s => s.Id == id);
    }

    [Fact]
    public async Task Create_VPodSpecPortZero_IsReplacedByAFreeLoopbackPort_ForACustomCommand()
    {
        var fixed_ = LoopbackPorts.Free();
        var grain = Grain(NewId());
        var spec = Shell(NewName("zero"), "exec sleep 30", RestartPolicy.Never, 0, fixed_, 0);
        var created = await grain.CreateAsync(spec);

        var ports = created.Spec!.Ports;
        Assert.Equal(3, ports.Count);
        Assert.Equal(fixed_, ports[1]);
        Assert.All(ports, port => Assert.InRange(port, 1, 65535));
        Assert.Equal(3, ports.Distinct().Count());
        Assert.Equal($"http://127.0.0.1:{ports[0]}", created.Endpoint);

        // Creating again with the same port-0 spec is the same vPod, not a conflict; with anything else different it is a
        // conflict that changes nothing (another environment, label, volume or restart policy is not silently dropped).
        var again = await grain.CreateAsync(spec);
        Assert.Equal(ports, again.Spec!.Ports);
        foreach (var other in new[]
        {
            spec with { Env = new Dictionary<string, string> { ["MODE"] = "other" } },
            spec with { Labels = new Dictionary<string, string> { ["team"] = "b" } },
            spec with { Volumes = [new VolumeMount("/tmp", "/data", true)] },
            spec with { RestartPolicy = RestartPolicy.Always },
        })
        {
            await Assert.ThrowsAsync<InvalidVPodOperationException>(() => grain.CreateAsync(other));
        }

        var kept = (await grain.GetStatusAsync()).Spec!;
        Assert.Empty(kept.Env);
        Assert.Empty(kept.Labels);
        Assert.Empty(kept.Volumes);
        Assert.Equal(RestartPolicy.Never, kept.RestartPolicy);

        // The same environment given in another order is the same vPod.
        var ordered = Grain(NewId());
        var withEnv = Shell(NewName("env"), "exec sleep 30") with { Env = new Dictionary<string, string> { ["A"] = "1", ["B"] = "2" } };
        var first = await ordered.CreateAsync(withEnv);
        Assert.Equal(first.Id, (await ordered.CreateAsync(withEnv with { Env = new Dictionary<string, string> { ["B"] = "2", ["A"] = "1" } })).Id);
        await ordered.DeleteAsync(new StopOptions(Force: true));
        await grain.StopAsync(new StopOptions(Force: true));
    }

    [Fact]
    public async Task OperationNotAllowed_ThrowsTypedError_AndChangesNothing()
    {
        var grain = Grain(NewId());
        await grain.CreateAsync(Shell(NewName("idle"), "sleep 30"));
        await WaitForAsync(grain, s => s.Phase == VPodPhase.Running, "Running");
        await grain.StopAsync(new StopOptions(Force: true));
        var before = await grain.GetStatusAsync();

        var error = await Assert.ThrowsAsync<InvalidVPodOperationException>(() => grain.StopAsync(new StopOptions()));
        Assert.Equal(VPodPhase.Stopped, error.Phase);
        var after = await grain.GetStatusAsync();
        Assert.Equal(before.UpdatedAt, after.UpdatedAt);
        Assert.Equal(before.Transitions.Count, after.Transitions.Count);
        Assert.Equal(VPodPhase.Stopped, after.Phase);
        await grain.DeleteAsync(new StopOptions());
    }

    [Fact]
    public async Task UnknownId_ThrowsNotFound()
    {
        var id = NewId();
        var error = await Assert.ThrowsAsync<VPodNotFoundException>(() => Grain(id).GetStatusAsync());
        Assert.Equal(id, error.VPodId);
    }

    [Fact]
    public async Task StatusIfChanged_IsNullForTheCurrentTag_AndTheNewStatusUnderANewTag_AfterAChangeOrAReactivation()
    {
        var id = NewId();
        var grain = Grain(id);
        await grain.CreateAsync(Shell(NewName("tag"), "exec sleep 60"));
        await WaitForAsync(grain, s => s.Phase == VPodPhase.Running, "Running");
        await grain.StopAsync(new StopOptions(Force: true));

        var stopped = Assert.IsType<TaggedVPodStatus>(await grain.GetStatusIfChangedAsync(Guid.Empty));
        Assert.NotEqual(Guid.Empty, stopped.Tag);
        Assert.Equal(VPodPhase.Stopped, stopped.Status.Phase);
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(await grain.GetStatusAsync()), System.Text.Json.JsonSerializer.Serialize(stopped.Status));
        Assert.Null(await grain.GetStatusIfChangedAsync(stopped.Tag));
        Assert.Equal(stopped.Tag, (await grain.GetStatusIfChangedAsync(Guid.NewGuid()))?.Tag);

        await grain.StartAsync();
        var started = Assert.IsType<TaggedVPodStatus>(await grain.GetStatusIfChangedAsync(stopped.Tag));
        Assert.NotEqual(stopped.Tag, started.Tag);
        Assert.NotEqual(VPodPhase.Stopped, started.Status.Phase);
        var running = await WaitForAsync(grain, s => s.Phase == VPodPhase.Running, "Running again");
        await grain.StopAsync(new StopOptions(Force: true));
        var again = Assert.IsType<TaggedVPodStatus>(await grain.GetStatusIfChangedAsync(started.Tag));

        // A new activation tags its status anew: a tag from the old one never stands for the new one's status.
        await fixture.Cluster.DeactivateAsync(grain);
        var reactivated = Assert.IsType<TaggedVPodStatus>(await grain.GetStatusIfChangedAsync(again.Tag));
        Assert.NotEqual(again.Tag, reactivated.Tag);
        Assert.Equal(running.RestartCount, reactivated.Status.RestartCount);
        Assert.Equal(VPodPhase.Stopped, reactivated.Status.Phase);
        await grain.DeleteAsync(new StopOptions(Force: true));
        await Assert.ThrowsAsync<VPodNotFoundException>(() => Grain(NewId()).GetStatusIfChangedAsync(Guid.Empty));
    }

    [Fact]
    public async Task InvalidSpec_IsRejected_AndNothingIsRecorded()
    {
        var id = NewId();
        var error = await Assert.ThrowsAsync<InvalidVPodSpecException>(() => Grain(id).CreateAsync(new VPodSpec { Name = "Bad Name", MemoryBytes = 1 }));
        Assert.Contains("name 'Bad Name'", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<VPodNotFoundException>(() => Grain(id).GetStatusAsync());
    }

    [Theory]
    [InlineData("worker-1")]
    [InlineData("vpod-Upper")]
    [InlineData("vpod-a.b")]
    public async Task InvalidId_IsRejectedByTheGrain_AndNothingIsRecorded(string id)
    {
        // A client that skips its own check meets the same rule on the server.
        var error = await Assert.ThrowsAsync<InvalidVPodSpecException>(() => Grain(id).CreateAsync(Shell(NewName("badid"), "sleep 30")));
        Assert.Equal(VPodNames.VPodIdProblem(id), error.Message);
        await Assert.ThrowsAsync<VPodNotFoundException>(() => Grain(id).GetStatusAsync());
    }

    [Fact]
    public async Task DuplicateName_IsRejected()
    {
        var name = NewName("dup");
        var first = Grain(NewId());
        await first.CreateAsync(Shell(name, "sleep 30"));
        var error = await Assert.ThrowsAsync<InvalidVPodSpecException>(() => Grain(NewId()).CreateAsync(Shell(name, "sleep 30")));
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
        await first.DeleteAsync(new StopOptions(Force: true));
    }

    [Fact]
    public async Task CrashingWorkload_OnFailure_IsRestartedWithBackoff()
    {
        var grain = Grain(NewId());
        await grain.CreateAsync(Shell(NewName("crash"), "echo starting; exit 3", RestartPolicy.OnFailure));
        var status = await WaitForAsync(grain, s => s.RestartCount >= 2, "two policy restarts");
        Assert.Contains(status.Transitions, t => t.Trigger == VPodTrigger.Exited && t.Reason.Contains("code 3", StringComparison.Ordinal));
        Assert.Contains(status.Transitions, t => t.Trigger == VPodTrigger.BackoffElapsed);
        var logs = await grain.GetLogsAsync(new LogQuery());
        Assert.True(logs.Count(l => l.Text == "starting") >= 2, "each restart ran the command again");
        await grain.DeleteAsync(new StopOptions(Force: true));
    }

    [Fact]
    public async Task CrashingWorkload_Never_StaysFailed_WithTheExitCode()
    {
        var grain = Grain(NewId());
        await grain.CreateAsync(Shell(NewName("never"), "exit 7", RestartPolicy.Never));
        var status = await WaitForAsync(grain, s => s.Phase == VPodPhase.Failed, "Failed");
        Assert.Equal(7, status.LastExitCode);
        Assert.Equal(0, status.RestartCount);
        Assert.Equal(VPodHealth.Unhealthy, status.Health);
        Assert.Null(status.NextRestartAt);

        // The registry is updated after the vPod's own record: wait for it rather than race it.
        var registry = fixture.Grains.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default);
        var summary = await Eventually.WaitAsync(
            async () => (await registry.ListAsync()).Single(s => s.Id == status.Id),
            s => s.Phase == VPodPhase.Failed && !s.ShouldRun,
            "the registry to list the vPod as Failed and not to be run");
        Assert.Equal(0, summary.RestartCount);
    }

    [Fact]
    public async Task CompletedWorkload_OnFailure_IsStoppedNotRestarted()
    {
        var grain = Grain(NewId());
        await grain.CreateAsync(Shell(NewName("done"), "echo done", RestartPolicy.OnFailure));
        var status = await WaitForAsync(grain, s => s.Phase == VPodPhase.Stopped, "Stopped after exit 0");
        Assert.Equal(0, status.LastExitCode);
        Assert.Equal(0, status.RestartCount);
    }

    [Fact]
    public async Task WorkloadThatNeverAnswersHealthz_BecomesFailed_AndIsKilled()
    {
        var port = LoopbackPorts.Free();
        var grain = Grain(NewId());
        await grain.CreateAsync(Shell(NewName("mute"), "exec sleep 60", RestartPolicy.Never, port));
        var status = await WaitForAsync(grain, s => s.Phase == VPodPhase.Failed, "Failed after health probes failed past the grace period");
        Assert.Contains(status.Transitions, t => t.Trigger == VPodTrigger.ProbeUnhealthy);
        var pid = int.Parse(status.Handle!.Id, System.Globalization.CultureInfo.InvariantCulture);
        await Eventually.WaitAsync(() => Task.FromResult(File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal)), alive => !alive, "the unhealthy process to be killed");
    }

    [Fact]
    public async Task ProcessKilledFromOutside_IsDetected_AndRestartedByPolicy()
    {
        var grain = Grain(NewId());
        await grain.CreateAsync(Shell(NewName("victim"), "exec sleep 60", RestartPolicy.Always));
        var running = await WaitForAsync(grain, s => s.Phase == VPodPhase.Running, "Running");
        System.Diagnostics.Process.GetProcessById(int.Parse(running.Handle!.Id, System.Globalization.CultureInfo.InvariantCulture)).Kill();
        var back = await WaitForAsync(grain, s => s.Phase == VPodPhase.Running && s.RestartCount == 1, "Running again with one restart");
        Assert.NotEqual(running.Handle.Id, back.Handle!.Id);
        await grain.DeleteAsync(new StopOptions(Force: true));
    }

    [Fact]
    public async Task Deactivation_AdoptsTheRunningWorkload_AndStateSurvives()
    {
        var id = NewId();
        var grain = Grain(id);
        await grain.CreateAsync(Shell(NewName("adopt"), "exec sleep 60", RestartPolicy.OnFailure));
        var running = await WaitForAsync(grain, s => s.Phase == VPodPhase.Running, "Running");
        await fixture.Cluster.DeactivateAsync(grain);
        var after = await grain.GetStatusAsync();
        Assert.Equal(VPodPhase.Running, after.Phase);
        Assert.Equal(running.Handle, after.Handle);
        Assert.Equal(running.CreatedAt, after.CreatedAt);
        Assert.Equal(0, after.RestartCount);
        await grain.DeleteAsync(new StopOptions(Force: true));
    }

    [Fact]
    public async Task Logs_TailSinceAndFollow()
    {
        var grain = Grain(NewId());
        await grain.CreateAsync(Shell(NewName("talk"), "for i in 1 2 3 4 5; do echo line-$i; done; echo err-1 1>&2; while read x; do :; done", RestartPolicy.Never));
        await Eventually.WaitAsync(() => grain.GetLogsAsync(new LogQuery()), l => l.Count >= 6, "six lines of output");

        var tail = await grain.GetLogsAsync(new LogQuery(Tail: 2));
        Assert.Equal(2, tail.Count);
        var all = await grain.GetLogsAsync(new LogQuery());
        Assert.Contains(all, l => l is { Text: "err-1", Stream: LogStream.Stderr });
        Assert.Contains(all, l => l is { Text: "line-3", Stream: LogStream.Stdout });
        Assert.Empty(await grain.GetLogsAsync(new LogQuery(Since: DateTimeOffset.UtcNow.AddMinutes(1))));
        Assert.Equal(all.Count, (await grain.GetLogsAsync(new LogQuery(Since: DateTimeOffset.UtcNow.AddMinutes(-5)))).Count);

        await grain.DeleteAsync(new StopOptions(Force: true));
    }

    [Fact]
    public async Task FollowLogs_YieldsLinesWrittenAfterItStarted()
    {
        var grain = Grain(NewId());
        await grain.CreateAsync(Shell(NewName("tick"), "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.1; done", RestartPolicy.Never));
        await Eventually.WaitAsync(() => grain.GetLogsAsync(new LogQuery()), l => l.Count >= 1, "the first tick");
        var followFrom = DateTimeOffset.UtcNow;
        var before = (await grain.GetLogsAsync(new LogQuery())).Select(l => l.Text).ToHashSet();

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = new List<LogLine>();
        await foreach (var line in grain.FollowLogsAsync(new LogQuery(Since: followFrom), cts.Token))
        {
            seen.Add(line);
            if (seen.Count == 3)
            {
                break;
            }
        }

        Assert.Equal(3, seen.Count);
        Assert.All(seen, l => Assert.StartsWith("tick-", l.Text, StringComparison.Ordinal));
        Assert.Contains(seen, l => !before.Contains(l.Text));
        Assert.All(seen, l => Assert.True(l.Timestamp >= followFrom, "follow honours since"));
        await grain.DeleteAsync(new StopOptions(Force: true));
    }
}
