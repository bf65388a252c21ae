using System.Globalization;
using MetaNode.Grains.Runtime;
using MetaNode.Grains.Runtime.Process;
using MetaNode.VPods;
using static MetaNode.Tests.Runtime.ProcessRuntimeSandbox;
using static MetaNode.Tests.Runtime.ProcessTestWait;

namespace MetaNode.Tests.Runtime;

public sealed class ProcessRuntimeTests : IAsyncLifetime
{
    private readonly ProcessRuntimeSandbox _sandbox = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _sandbox.DisposeAsync();

    [Fact]
    public async Task WriteDataFilesAsync_PutsTheFilesInTheDataDirectoryTheWorkloadReads_WithTheirBytes()
    {
        var runtime = _sandbox.CreateRuntime();
        var spec = Shell("cat \"$METANODE_DATA_DIR/train.csv\"; echo; cat \"$METANODE_DATA_DIR/manifest.json\"; echo");
        var files = new VPodDataFiles { Files = [new VPodDataFile("train.csv", "1,2,0"u8.ToArray()), new VPodDataFile("manifest.json", "{\"part\":0}"u8.ToArray())] };

        await runtime.ProvisionAsync("vpod-data", spec);
        await runtime.WriteDataFilesAsync("vpod-data", spec, handle: null, files);
        var handle = await runtime.StartAsync("vpod-data", spec, null);
        await StateAsync(runtime, "vpod-data", handle, WorkloadState.Exited);

        var data = Path.Combine(runtime.GetVPodDirectory("vpod-data"), "data");
        Assert.Equal(["manifest.json", "train.csv"], Directory.GetFiles(data).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.All(files.Files, f => Assert.Equal(f.Content, File.ReadAllBytes(Path.Combine(data, f.Name))));
        var lines = await LogsAsync(runtime, "vpod-data", l => l.Count >= 2, "the workload printing its data files");
        Assert.Equal(["1,2,0", "{\"part\":0}"], lines.Select(l => l.Text));

        var refused = await Assert.ThrowsAsync<InvalidVPodDataException>(() => runtime.WriteDataFilesAsync("vpod-data", spec, handle, new VPodDataFiles { Files = [new VPodDataFile("train.csv", [9]), new VPodDataFile("../x", [9])] }));
        Assert.Contains("'../x' contains a path separator", refused.Message, StringComparison.Ordinal);
        Assert.Equal("1,2,0"u8.ToArray(), File.ReadAllBytes(Path.Combine(data, "train.csv")));
    }

    [Fact]
    public async Task WriteDataFilesAsync_ReplacesFilesAtomically_SoAReaderSeesOneWholeVersionOrTheOther()
    {
        var runtime = _sandbox.CreateRuntime();
        var spec = Shell("exit 0");
        await runtime.ProvisionAsync("vpod-atomic", spec);
        var versions = new[] { new byte[1 << 20], new byte[1 << 20] };
        Array.Fill(versions[0], (byte)'a');
        Array.Fill(versions[1], (byte)'b');
        VPodDataFiles Version(int i) => new() { Files = [new VPodDataFile("train.csv", versions[i])] };
        await runtime.WriteDataFilesAsync("vpod-atomic", spec, null, Version(0));
        var path = Path.Combine(runtime.GetVPodDirectory("vpod-atomic"), "data", "train.csv");

        using var done = new CancellationTokenSource();
        var reads = 0;
        var reader = Task.Run(() =>
        {
            while (!done.IsCancellationRequested)
            {
                var seen = File.ReadAllBytes(path);
                Assert.True(seen.AsSpan().SequenceEqual(versions[0]) || seen.AsSpan().SequenceEqual(versions[1]), $"a read saw {seen.Length} bytes of a half-written file");
                Interlocked.Increment(ref reads);
            }
        });

        // Rewrites alternate between the versions while the reader reads, until it has read often enough.
        var writes = 0;
        while ((writes < 40 || Volatile.Read(ref reads) < 40) && writes < 20_000 && !reader.IsCompleted)
        {
            writes++;
            await runtime.WriteDataFilesAsync("vpod-atomic", spec, null, Version(writes % 2));
        }

        await done.CancelAsync();
        await reader;

        Assert.True(Volatile.Read(ref reads) >= 40, $"the reader read {reads} times during {writes} writes");
        Assert.Equal(versions[writes % 2], File.ReadAllBytes(path));
        Assert.Equal(["train.csv"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
    }

    [Fact]
    public async Task StartAsync_CapturesStdoutAndStderr_WithTheirStreams()
    {
        var runtime = _sandbox.CreateRuntime();
        var before = DateTimeOffset.UtcNow;

        var handle = await runtime.StartAsync("vpod-out", Shell("echo hello; echo oops 1>&2; sleep 30"), null);

        Assert.Equal(DeploymentMethod.Process, handle.Method);
        Assert.Equal(runtime.InstanceId, handle.Owner);
        Assert.Equal(runtime.NodeId, handle.Node);
        Assert.NotEqual(0, handle.StartMarker);
        Assert.True(int.Parse(handle.Id, CultureInfo.InvariantCulture) > 0);
        var lines = await LogsAsync(runtime, "vpod-out", l => l.Count >= 2, "hello and oops in the log");
        Assert.Contains(lines, l => l.Stream == LogStream.Stdout && l.Text == "hello");
        Assert.Contains(lines, l => l.Stream == LogStream.Stderr && l.Text == "oops");
        Assert.All(lines, l => Assert.InRange(l.Timestamp, before, DateTimeOffset.UtcNow));
        Assert.Equal(WorkloadState.Running, (await runtime.InspectAsync("vpod-out", handle)).State);
    }

    [Fact]
    public async Task StartAsync_PassesEnvironmentAndWorkingDirectory_ToTheWorkload()
    {
        const string secret = "METANODE_PROCESS_TEST_SILO_ONLY";
        Environment.SetEnvironmentVariable(secret, "must-not-leak");
        var runtime = _sandbox.CreateRuntime();
        var spec = Shell($"echo id=$METANODE_VPOD_ID; echo name=$METANODE_VPOD_NAME; echo type=$METANODE_VPOD_TYPE; echo port=$METANODE_PORT; "
            + $"echo host=$METANODE_HOST; echo data=$METANODE_DATA_DIR; echo custom=$CUSTOM; echo secret=${secret}; echo pwd=$(pwd)") with
        {
            Name = "env-test",
            Type = VPodType.Validator,
            Ports = [18081, 18082],
            Env = new Dictionary<string, string> { ["CUSTOM"] = "a b" },
        };

        var handle = await runtime.StartAsync("vpod-env", spec, null);
        await StateAsync(runtime, "vpod-env", handle, WorkloadState.Exited);

        var data = Path.Combine(runtime.GetVPodDirectory("vpod-env"), "data");
        var text = (await runtime.ReadLogsAsync("vpod-env", handle, new LogQuery())).Select(l => l.Text).ToList();
        Assert.Equal(
            ["id=vpod-env", "name=env-test", "type=validator", "port=18081", "host=127.0.0.1", $"data={data}", "custom=a b", "secret=", $"pwd={data}"],
            text);
        Assert.Equal("http://127.0.0.1:18081", handle.Endpoint);
    }

    [Fact]
    public async Task StartAsync_RunsTheImage_WithTheCommandAsArguments()
    {
        var runtime = _sandbox.CreateRuntime();
        var spec = new VPodSpec { Name = "image", Image = "/bin/sh", Command = ["-c", "echo from-image"] };

        var handle = await runtime.StartAsync("vpod-image", spec, null);

        await LineAsync(runtime, "vpod-image", "from-image");
        Assert.Equal(0, (await StateAsync(runtime, "vpod-image", handle, WorkloadState.Exited)).ExitCode);
    }

    [Fact]
    public async Task StartAsync_ReturnsTheRunningHandle_WhenAlreadyRunning()
    {
        var runtime = _sandbox.CreateRuntime();
        var spec = Shell("sleep 30");

        var first = await runtime.StartAsync("vpod-twice", spec, null);
        var second = await runtime.StartAsync("vpod-twice", spec, first);
        var third = await runtime.StartAsync("vpod-twice", spec, null);

        Assert.Equal(first, second);
        Assert.Equal(first, third);
    }

    [Fact]
    public async Task StartAsync_StartsANewProcess_AfterTheLastOneExited()
    {
        var runtime = _sandbox.CreateRuntime();
        var spec = Shell("exit 4");
        var first = await runtime.StartAsync("vpod-again", spec, null);
        await StateAsync(runtime, "vpod-again", first, WorkloadState.Exited);

        var second = await runtime.StartAsync("vpod-again", spec, first);

        Assert.NotEqual((first.Id, first.StartMarker), (second.Id, second.StartMarker));
        Assert.Equal(4, (await StateAsync(runtime, "vpod-again", second, WorkloadState.Exited)).ExitCode);
        Assert.Equal(4, (await runtime.InspectAsync("vpod-again", first)).ExitCode);
    }

    [Fact]
    public async Task InspectAsync_ReportsTheExitCode_WhenTheProcessExitsByItself()
    {
        var runtime = _sandbox.CreateRuntime();

        var handle = await runtime.StartAsync("vpod-exit", Shell("exit 3"), null);
        var observation = await StateAsync(runtime, "vpod-exit", handle, WorkloadState.Exited);

        Assert.Equal(3, observation.ExitCode);
        Assert.Equal(3, await runtime.StopAsync("vpod-exit", handle, TimeSpan.FromSeconds(1), force: false));
    }

    [Fact]
    public async Task StopAsync_SendsSigtermFirst_WhenNotForced()
    {
        var runtime = _sandbox.CreateRuntime();
        var handle = await runtime.StartAsync("vpod-term", Shell("trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.1; done"), null);
        await LineAsync(runtime, "vpod-term", "ready");

        var exitCode = await runtime.StopAsync("vpod-term", handle, TimeSpan.FromSeconds(20), force: false);

        Assert.Equal(0, exitCode);
        Assert.Contains(await runtime.ReadLogsAsync("vpod-term", handle, new LogQuery()), l => l.Text == "got-term");
        Assert.Equal(0, (await runtime.InspectAsync("vpod-term", handle)).ExitCode);
    }

    [Fact]
    public async Task StopAsync_SendsSigkill_WhenSigtermIsIgnoredPastTheTimeout()
    {
        var runtime = _sandbox.CreateRuntime();
        var handle = await runtime.StartAsync("vpod-stubborn", Shell("trap 'echo got-term; termed=1' TERM; termed=0; echo ready; while true; do [ $termed = 1 ] && echo still-running; sleep 0.1; done"), null);
        await LineAsync(runtime, "vpod-stubborn", "ready");

        var exitCode = await runtime.StopAsync("vpod-stubborn", handle, TimeSpan.FromSeconds(1), force: false);

        // SIGTERM came first, the workload went on after it, and only then was it killed.
        Assert.Equal(128 + 9, exitCode);
        var lines = (await runtime.ReadLogsAsync("vpod-stubborn", handle, new LogQuery())).Select(l => l.Text).ToList();
        Assert.Contains("got-term", lines);
        Assert.Contains("still-running", lines.SkipWhile(l => l != "got-term"));
        Assert.Equal(WorkloadState.Exited, (await runtime.InspectAsync("vpod-stubborn", handle)).State);
    }

    [Fact]
    public async Task StopAsync_KillsAtOnce_WhenForced()
    {
        var runtime = _sandbox.CreateRuntime();
        var handle = await runtime.StartAsync("vpod-force", Shell("trap 'echo got-term' TERM; echo ready; sleep 60"), null);
        await LineAsync(runtime, "vpod-force", "ready");

        var exitCode = await runtime.StopAsync("vpod-force", handle, TimeSpan.FromSeconds(60), force: true);

        // Killed without the SIGTERM a graceful stop sends first (and so without waiting out its timeout).
        Assert.Equal(128 + 9, exitCode);
        Assert.DoesNotContain(await runtime.ReadLogsAsync("vpod-force", handle, new LogQuery()), l => l.Text == "got-term");
    }

    [Fact]
    public async Task StopAsync_Succeeds_WhenTheWorkloadIsAlreadyGone()
    {
        var runtime = _sandbox.CreateRuntime();
        var provisioned = await runtime.ProvisionAsync("vpod-gone", Shell("sleep 30"));
        var handle = await runtime.StartAsync("vpod-gone", Shell("sleep 30"), provisioned);

        var first = await runtime.StopAsync("vpod-gone", handle, TimeSpan.FromSeconds(10), force: false);
        var second = await runtime.StopAsync("vpod-gone", handle, TimeSpan.FromSeconds(10), force: false);

        Assert.Equal(128 + 15, first);
        Assert.Equal(first, second);
        Assert.Null(await runtime.StopAsync("vpod-never", provisioned with { Id = "" }, TimeSpan.FromSeconds(1), force: false));
    }

    [Fact]
    public async Task StopAsync_StopsTheWholeProcessGroup()
    {
        var runtime = _sandbox.CreateRuntime();
        var handle = await runtime.StartAsync("vpod-group", Shell("sleep 60 & echo child=$!; wait"), null);
        var lines = await LogsAsync(runtime, "vpod-group", l => l.Any(x => x.Text.StartsWith("child=", StringComparison.Ordinal)), "the child's pid");
        var child = int.Parse(lines.First(l => l.Text.StartsWith("child=", StringComparison.Ordinal)).Text["child=".Length..], CultureInfo.InvariantCulture);
        Assert.True(IsAlive(child));

        await runtime.StopAsync("vpod-group", handle, TimeSpan.FromSeconds(10), force: false);

        await UntilAsync(() => Task.FromResult(!IsAlive(child)), WaitTimeout, $"the workload's child {child} to be gone");
    }

    [Fact]
    public async Task MonitorAsync_KillsWhatTheWorkloadLeftBehind_WhenItExits()
    {
        var runtime = _sandbox.CreateRuntime();
        var handle = await runtime.StartAsync("vpod-leftover", Shell("sleep 60 & echo child=$!; exit 0"), null);
        await StateAsync(runtime, "vpod-leftover", handle, WorkloadState.Exited);
        var lines = await LogsAsync(runtime, "vpod-leftover", l => l.Any(x => x.Text.StartsWith("child=", StringComparison.Ordinal)), "the child's pid");
        var child = int.Parse(lines.First(l => l.Text.StartsWith("child=", StringComparison.Ordinal)).Text["child=".Length..], CultureInfo.InvariantCulture);

        await UntilAsync(() => Task.FromResult(!IsAlive(child)), WaitTimeout, $"the left-behind child {child} to be gone");
    }

    [Fact]
    public async Task ReadLogsAsync_KeepsAtMostLogMaxFilesRotatedFiles_AndReadsThemInOrder()
    {
        var runtime = _sandbox.CreateRuntime(o =>
        {
            o.LogMaxBytes = 1024;
            o.LogMaxFiles = 2;
        });
        var handle = await runtime.StartAsync("vpod-rotate", Shell("i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done"), null);
        await StateAsync(runtime, "vpod-rotate", handle, WorkloadState.Exited);

        var logs = Path.Combine(runtime.GetVPodDirectory("vpod-rotate"), "logs");
        var files = Directory.GetFiles(logs).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["vpod.log", "vpod.log.1", "vpod.log.2"], files);
        Assert.All(Directory.GetFiles(logs), f => Assert.True(new FileInfo(f).Length <= 1024, $"{f} has {new FileInfo(f).Length} bytes"));

        var all = await runtime.ReadLogsAsync("vpod-rotate", handle, new LogQuery());
        var numbers = all.Select(l => int.Parse(l.Text["line-".Length..], CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(299, numbers[^1]);
        Assert.Equal(Enumerable.Range(numbers[0], numbers.Count), numbers);
        Assert.InRange(numbers.Count, 40, 299);
        Assert.True(all.Zip(all.Skip(1)).All(p => p.First.Timestamp < p.Second.Timestamp), "timestamps increase");

        var tail = await runtime.ReadLogsAsync("vpod-rotate", handle, new LogQuery(Tail: 5));
        Assert.Equal(["line-295", "line-296", "line-297", "line-298", "line-299"], tail.Select(l => l.Text));
        Assert.Empty(await runtime.ReadLogsAsync("vpod-rotate", handle, new LogQuery(Tail: 0)));
    }

    [Fact]
    public async Task ReadLogsAsync_ReturnsOnlyLinesAtOrAfterSince()
    {
        var runtime = _sandbox.CreateRuntime();
        var handle = await runtime.StartAsync("vpod-since", Shell("echo first; while [ ! -f go ]; do sleep 0.05; done; echo second; sleep 30"), null);
        var first = (await LineAsync(runtime, "vpod-since", "first")).Single(l => l.Text == "first");
        var cut = DateTimeOffset.UtcNow;
        await File.WriteAllTextAsync(Path.Combine(runtime.GetVPodDirectory("vpod-since"), "data", "go"), "");
        var second = (await LineAsync(runtime, "vpod-since", "second")).Single(l => l.Text == "second");
        Assert.True(first.Timestamp < cut && cut <= second.Timestamp);

        var sinceCut = await runtime.ReadLogsAsync("vpod-since", handle, new LogQuery(Since: cut));
        var sinceFirst = await runtime.ReadLogsAsync("vpod-since", handle, new LogQuery(Since: first.Timestamp));
        var lastOne = await runtime.ReadLogsAsync("vpod-since", handle, new LogQuery(Tail: 1, Since: first.Timestamp));

        Assert.Equal(["second"], sinceCut.Select(l => l.Text));
        Assert.Equal(["first", "second"], sinceFirst.Select(l => l.Text));
        Assert.Equal(["second"], lastOne.Select(l => l.Text));
    }

    [Fact]
    public async Task FollowLogsAsync_YieldsALineWrittenAfterTheFollowStarted()
    {
        var runtime = _sandbox.CreateRuntime();
        var handle = await runtime.StartAsync("vpod-follow", Shell("echo early; while [ ! -f go ]; do sleep 0.05; done; echo later; sleep 30"), null);
        await LineAsync(runtime, "vpod-follow", "early");
        using var timeout = new CancellationTokenSource(WaitTimeout);

        await using var follow = runtime.FollowLogsAsync("vpod-follow", handle, new LogQuery()).GetAsyncEnumerator(timeout.Token);
        var existing = await NextAsync(follow, timeout.Token, "the existing line 'early'");
        await File.WriteAllTextAsync(Path.Combine(runtime.GetVPodDirectory("vpod-follow"), "data", "go"), "");
        var later = await NextAsync(follow, timeout.Token, "the new line 'later'");

        Assert.Equal("early", existing.Text);
        Assert.Equal("later", later.Text);
        Assert.Equal(LogStream.Stdout, later.Stream);
    }

    [Fact]
    public async Task FollowLogsAsync_YieldsEveryLineOnce_AcrossRotations()
    {
        var runtime = _sandbox.CreateRuntime(o =>
        {
            o.LogMaxBytes = 1024;
            o.LogMaxFiles = 20;
        });
        var handle = await runtime.StartAsync(
            "vpod-follow-rotate",
            Shell("echo ready; while [ ! -f go ]; do sleep 0.05; done; i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done; sleep 30"),
            null);
        await LineAsync(runtime, "vpod-follow-rotate", "ready");
        using var timeout = new CancellationTokenSource(WaitTimeout);

        await using var follow = runtime.FollowLogsAsync("vpod-follow-rotate", handle, new LogQuery(Tail: 0)).GetAsyncEnumerator(timeout.Token);
        var moveNext = follow.MoveNextAsync();
        await File.WriteAllTextAsync(Path.Combine(runtime.GetVPodDirectory("vpod-follow-rotate"), "data", "go"), "");
        var received = new List<string>();
        try
        {
            while (await moveNext)
            {
                received.Add(follow.Current.Text);
                if (follow.Current.Text == "line-199")
                {
                    break;
                }

                moveNext = follow.MoveNextAsync();
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"Timed out waiting for line-199 through the follow; got {received.Count} lines, last '{received.LastOrDefault()}'.");
        }

        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"line-{i}"), received);
        Assert.True(Directory.GetFiles(Path.Combine(runtime.GetVPodDirectory("vpod-follow-rotate"), "logs")).Length > 3, "the log rotated several times");
    }

    [Fact]
    public async Task InspectAsync_SeesAnotherInstancesProcessAsOrphaned_AndStopAsyncStopsIt()
    {
        var owner = _sandbox.CreateRuntime();
        var other = _sandbox.CreateRuntime();
        var handle = await owner.StartAsync("vpod-orphan", Shell("echo ready; sleep 60"), null);
        await LineAsync(owner, "vpod-orphan", "ready");

        var seen = await other.InspectAsync("vpod-orphan", handle);
        var exitCode = await other.StopAsync("vpod-orphan", handle, TimeSpan.FromSeconds(10), force: false);

        Assert.Equal(WorkloadState.Orphaned, seen.State);
        Assert.Null(exitCode);
        Assert.False(IsAlive(int.Parse(handle.Id, CultureInfo.InvariantCulture)));
        Assert.Equal(WorkloadState.NotFound, (await other.InspectAsync("vpod-orphan", handle)).State);
        Assert.Equal(128 + 15, (await StateAsync(owner, "vpod-orphan", handle, WorkloadState.Exited)).ExitCode);
    }

    [Fact]
    public async Task StartAsync_ReplacesAnOrphan_WithASupervisedProcess()
    {
        var owner = _sandbox.CreateRuntime();
        var successor = _sandbox.CreateRuntime();
        var orphan = await owner.StartAsync("vpod-adopt", Shell("echo ready; sleep 60"), null);
        await LineAsync(owner, "vpod-adopt", "ready");

        var handle = await successor.StartAsync("vpod-adopt", Shell("echo ready; sleep 60"), orphan);

        Assert.Equal(successor.InstanceId, handle.Owner);
        Assert.NotEqual(orphan.Id, handle.Id);
        Assert.False(IsAlive(int.Parse(orphan.Id, CultureInfo.InvariantCulture)));
        Assert.Equal(WorkloadState.Running, (await successor.InspectAsync("vpod-adopt", handle)).State);
    }

    [Fact]
    public async Task InspectAsync_ReturnsNotFound_WhenThePidDoesNotExistOrWasReused()
    {
        var runtime = _sandbox.CreateRuntime();
        var missing = new RuntimeHandle(DeploymentMethod.Process, int.MaxValue.ToString(CultureInfo.InvariantCulture), runtime.NodeId, DateTimeOffset.UtcNow, "someone", 12345);
        var reused = missing with { Id = Environment.ProcessId.ToString(CultureInfo.InvariantCulture), StartMarker = 1 };
        var elsewhere = reused with { Node = "another-machine/another-boot", StartMarker = ProcFs.ReadStat(Environment.ProcessId)!.Value.StartTicks };

        Assert.Equal(WorkloadState.NotFound, (await runtime.InspectAsync("vpod-missing", missing)).State);
        Assert.Equal(WorkloadState.NotFound, (await runtime.InspectAsync("vpod-missing", reused)).State);
        Assert.Equal(WorkloadState.NotFound, (await runtime.InspectAsync("vpod-missing", elsewhere)).State);
        Assert.Null(await runtime.StopAsync("vpod-missing", missing, TimeSpan.FromSeconds(1), force: true));
        Assert.Null(await runtime.StopAsync("vpod-missing", reused, TimeSpan.FromSeconds(1), force: true));
        Assert.Null(await runtime.StopAsync("vpod-missing", elsewhere, TimeSpan.FromSeconds(1), force: true));
        Assert.Null(await runtime.GetUsageAsync("vpod-missing", reused, Shell("true")));
    }

    [Fact]
    public async Task GetUsageAsync_ReportsCpuAndMemory_ForALiveProcess()
    {
        var runtime = _sandbox.CreateRuntime();
        var spec = Shell("echo ready; while true; do :; done") with { MemoryBytes = 64L * 1024 * 1024 };
        var handle = await runtime.StartAsync("vpod-usage", spec, null);
        await LineAsync(runtime, "vpod-usage", "ready");

        WorkloadUsage? usage = null;
        await UntilAsync(
            async () =>
            {
                usage = await runtime.GetUsageAsync("vpod-usage", handle, spec);
                return usage is { CpuPercent: > 0 };
            },
            WaitTimeout,
            "a cpu sample above 0 for a busy loop");

        Assert.NotNull(usage);
        Assert.True(usage.MemoryBytes > 0, $"memory {usage.MemoryBytes}");
        Assert.Equal(spec.MemoryBytes, usage.MemoryLimitBytes);
        Assert.InRange(usage.CpuPercent, 0.01, 100.0 * Environment.ProcessorCount + 10);
        Assert.True(usage.NetworkRxBytes >= 0 && usage.NetworkTxBytes >= 0);

        await runtime.StopAsync("vpod-usage", handle, TimeSpan.FromSeconds(10), force: true);
        Assert.Null(await runtime.GetUsageAsync("vpod-usage", handle, spec));
    }

    [Fact]
    public async Task ProvisionAsync_CreatesTheDirectories_AndAHandleThatIsNotRunning()
    {
        var runtime = _sandbox.CreateRuntime();

        var handle = await runtime.ProvisionAsync("vpod-provision", Shell("true"));

        var directory = runtime.GetVPodDirectory("vpod-provision");
        Assert.Equal(Path.Combine(_sandbox.Root, "vpods", "vpod-provision"), directory);
        Assert.True(Directory.Exists(Path.Combine(directory, "data")));
        Assert.True(Directory.Exists(Path.Combine(directory, "logs")));
        Assert.Equal(DeploymentMethod.Process, handle.Method);
        Assert.Equal(runtime.NodeId, handle.Node);
        Assert.Equal(WorkloadState.Created, (await runtime.InspectAsync("vpod-provision", handle)).State);
        Assert.Empty(await runtime.ReadLogsAsync("vpod-provision", handle, new LogQuery()));
    }

    [Fact]
    public async Task ProvisionAsync_CreatesThePrivateKeyDirectory_AndSetsItsModeAgain_WhenItExists()
    {
        var runtime = _sandbox.CreateRuntime();
        var existing = runtime.GetKeyDirectory("vpod-key-old");
        Directory.CreateDirectory(existing);
        UnixModes.Set(existing, UnixModes.OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        File.WriteAllText(Path.Combine(existing, "signing.key"), "kept");

        await runtime.ProvisionAsync("vpod-key-new", Shell("true"));
        await runtime.ProvisionAsync("vpod-key-old", Shell("true"));

        var created = runtime.GetKeyDirectory("vpod-key-new");
        Assert.Equal(Path.Combine(_sandbox.Root, "vpods", "vpod-key-new", "key"), created);
        Assert.True(Path.IsPathFullyQualified(created), created);
        Assert.True(Directory.Exists(created));
        Assert.Equal(UnixModes.OwnerOnly, UnixModes.Of(created));
        Assert.Equal(UnixModes.OwnerOnly, UnixModes.Of(existing));
        Assert.Equal("kept", File.ReadAllText(Path.Combine(existing, "signing.key")));
    }

    [Fact]
    public async Task StartAsync_PassesTheKeyDirectory_AsMetanodeKeyDir_EvenWhenTheSpecSetsIt()
    {
        var runtime = _sandbox.CreateRuntime();
        var spec = Shell("echo \"key=$METANODE_KEY_DIR\"; sleep 60") with { Env = new Dictionary<string, string> { ["METANODE_KEY_DIR"] = "/tmp/not-the-vpods" } };

        // Started without a provision first: the start makes the directory too.
        await runtime.StartAsync("vpod-key-env", spec, null);

        var key = runtime.GetKeyDirectory("vpod-key-env");
        await LineAsync(runtime, "vpod-key-env", $"key={key}");
        Assert.Equal(UnixModes.OwnerOnly, UnixModes.Of(key));
    }

    [Fact]
    public async Task StartAsync_KeepsTheKeyDirectory_AcrossARestartAndAnAdoptionByAnotherRuntime_UntilTheVPodIsRemoved()
    {
        var owner = _sandbox.CreateRuntime();
        var spec = Shell("if [ -f \"$METANODE_KEY_DIR/signing.key\" ]; then echo \"found=$(cat \"$METANODE_KEY_DIR/signing.key\")\"; "
            + "else echo key-of-run-1 > \"$METANODE_KEY_DIR/signing.key\"; echo created; fi; sleep 60");
        await owner.ProvisionAsync("vpod-key-keep", spec);
        var first = await owner.StartAsync("vpod-key-keep", spec, null);
        await LineAsync(owner, "vpod-key-keep", "created");

        await owner.StopAsync("vpod-key-keep", first, TimeSpan.FromSeconds(10), force: false);
        var second = await owner.StartAsync("vpod-key-keep", spec, first);
        await LineAsync(owner, "vpod-key-keep", "found=key-of-run-1");

        // A successor silo's runtime over the same root adopts the vPod: the same directory, still private, with the same key.
        var successor = _sandbox.CreateRuntime();
        var adopted = await successor.StartAsync("vpod-key-keep", spec, second);
        Assert.Equal(successor.InstanceId, adopted.Owner);
        Assert.Equal(owner.GetKeyDirectory("vpod-key-keep"), successor.GetKeyDirectory("vpod-key-keep"));
        var lines = await LogsAsync(successor, "vpod-key-keep", l => l.Count(x => x.Text == "found=key-of-run-1") >= 2, "the adopted workload to find the key of its first run");
        Assert.Equal(1, lines.Count(l => l.Text == "created"));
        var key = successor.GetKeyDirectory("vpod-key-keep");
        Assert.Equal(UnixModes.OwnerOnly, UnixModes.Of(key));

        await successor.RemoveAsync("vpod-key-keep", adopted);

        Assert.False(Directory.Exists(key), "removing the vPod removes its key directory with the rest of its directory");
    }

    [Fact]
    public async Task ProvisionAsync_RejectsSpecsThatCannotRun()
    {
        var runtime = _sandbox.CreateRuntime(o => o.ReferenceWorkloadPath = Path.Combine(_sandbox.Root, "missing", "MetaNode.Workload.dll"));
        Directory.CreateDirectory(_sandbox.Root);
        var notExecutable = Path.Combine(_sandbox.Root, "plain.txt");
        await File.WriteAllTextAsync(notExecutable, "text");

        async Task<string> Rejected(VPodSpec spec) =>
            (await Assert.ThrowsAsync<InvalidVPodSpecException>(() => runtime.ProvisionAsync("vpod-bad", spec))).Message;

        Assert.Contains("/no/such/program", await Rejected(new VPodSpec { Name = "x", Image = "/no/such/program" }), StringComparison.Ordinal);
        Assert.Contains("relative/program", await Rejected(new VPodSpec { Name = "x", Image = "relative/program" }), StringComparison.Ordinal);
        Assert.Contains("not executable", await Rejected(new VPodSpec { Name = "x", Image = notExecutable }), StringComparison.Ordinal);
        Assert.Contains("no-such-program-anywhere", await Rejected(new VPodSpec { Name = "x", Command = ["no-such-program-anywhere"] }), StringComparison.Ordinal);
        Assert.Contains("spec.volumes", await Rejected(Shell("true") with { Volumes = [new VolumeMount("/a", "/b")] }), StringComparison.Ordinal);
        Assert.Contains("spec.ports[0]", await Rejected(Shell("true") with { Ports = [70000] }), StringComparison.Ordinal);
        Assert.Contains("docker", await Rejected(Shell("true") with { DeploymentMethod = DeploymentMethod.Docker }), StringComparison.Ordinal);
        Assert.Contains("ReferenceWorkloadPath", await Rejected(new VPodSpec { Name = "x" }), StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => runtime.ProvisionAsync("../escape", Shell("true")));
        await Assert.ThrowsAsync<ArgumentException>(() => runtime.ProvisionAsync("a/b", Shell("true")));
        Assert.False(Directory.Exists(Path.Combine(_sandbox.Root, "vpods", "vpod-bad")));
    }

    [Fact]
    public async Task RemoveAsync_StopsTheProcess_AndDeletesTheDirectory()
    {
        var runtime = _sandbox.CreateRuntime();
        var handle = await runtime.StartAsync("vpod-remove", Shell("echo ready; sleep 60"), null);
        await LineAsync(runtime, "vpod-remove", "ready");
        var directory = runtime.GetVPodDirectory("vpod-remove");

        await runtime.RemoveAsync("vpod-remove", handle);
        await runtime.RemoveAsync("vpod-remove", handle);

        Assert.False(Directory.Exists(directory));
        Assert.False(IsAlive(int.Parse(handle.Id, CultureInfo.InvariantCulture)));
        Assert.Equal(WorkloadState.NotFound, (await runtime.InspectAsync("vpod-remove", handle)).State);
        Assert.Empty(await runtime.ReadLogsAsync("vpod-remove", handle, new LogQuery()));
    }

    [Fact]
    public async Task DisposeAsync_StopsEveryProcessGracefully()
    {
        var runtime = _sandbox.CreateRuntime();
        var handle = await runtime.StartAsync("vpod-shutdown", Shell("trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.1; done"), null);
        await LineAsync(runtime, "vpod-shutdown", "ready");

        await runtime.DisposeAsync();

        Assert.False(IsAlive(int.Parse(handle.Id, CultureInfo.InvariantCulture)));
        var log = await File.ReadAllTextAsync(Path.Combine(runtime.GetVPodDirectory("vpod-shutdown"), "logs", "vpod.log"));
        Assert.Contains(" stdout got-term", log, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => runtime.StartAsync("vpod-shutdown", Shell("true"), null));
    }
}
