using System.Text.Json;
using MetaNode.Cli;
using MetaNode.Client;
using MetaNode.VPods;

namespace MetaNode.Tests.Cli;

public sealed class CliAppTests
{
    private const string KnownId = "vpod-0a1b2c3d";

    private readonly CliRunner _cli = new();

    public CliAppTests()
    {
        _cli.Client.VPods[KnownId] = FakeMetaNodeClient.SampleStatus(KnownId);
    }

    [Fact]
    public async Task StatusJson_HasIdentityPhaseAndHealthAsStrings_WhenVPodExists()
    {
        var result = await _cli.RunAsync("vpod", "status", "--id", KnownId, "--output", "json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Empty(result.Stderr);
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        Assert.Equal(JsonValueKind.Object, root.ValueKind);
        Assert.Equal(KnownId, root.GetProperty("id").GetString());
        Assert.Equal("trainer-1", root.GetProperty("name").GetString());
        Assert.Equal("Compute", root.GetProperty("type").GetString());
        Assert.Equal("Running", root.GetProperty("phase").GetString());
        Assert.Equal("Healthy", root.GetProperty("health").GetString());
        Assert.Equal(2, root.GetProperty("restartCount").GetInt32());
        Assert.Equal("http://127.0.0.1:8080", root.GetProperty("endpoint").GetString());
        Assert.Equal("4242", root.GetProperty("handle").GetProperty("id").GetString());
        Assert.Equal(2, root.GetProperty("transitions").GetArrayLength());
        Assert.Equal("ProbeHealthy", root.GetProperty("transitions")[1].GetProperty("trigger").GetString());
        Assert.True(root.TryGetProperty("createdAt", out _));
        Assert.True(root.TryGetProperty("reason", out _));
        Assert.True(_cli.Client.Disposed);
    }

    [Fact]
    public async Task StatusTable_ShowsIdPhaseAndTransitions_ByDefault()
    {
        var result = await _cli.RunAsync("vpod", "status", "--id", KnownId);

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Contains(KnownId, result.Stdout);
        Assert.Contains("Running", result.Stdout);
        Assert.Contains("Healthy", result.Stdout);
        Assert.Contains("healthz ok", result.Stdout);
        Assert.DoesNotContain("\u001b[", result.Stdout);
    }

    [Fact]
    public async Task ListJson_IsAnArrayOfSummaries()
    {
        var result = await _cli.RunAsync("vpod", "list", "-o", "json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(JsonValueKind.Array, json.RootElement.ValueKind);
        var item = Assert.Single(json.RootElement.EnumerateArray());
        Assert.Equal(KnownId, item.GetProperty("id").GetString());
        Assert.Equal("Running", item.GetProperty("phase").GetString());
    }

    [Fact]
    public async Task ListTable_SaysSo_WhenThereAreNoVPods()
    {
        _cli.Client.VPods.Clear();

        var result = await _cli.RunAsync("vpod", "list");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains("No vPods", result.Stdout);
    }

    [Fact]
    public async Task Create_SendsParsedSpecAndPrintsStatusJson_WhenFlagsAreValid()
    {
        var result = await _cli.RunAsync(
            "vpod", "create", "--name", "trainer-2", "--type", "validator", "--cpu", "500m", "--memory", "256Mi",
            "--command", "python3 worker.py --epochs 2", "--env", "A=1", "--env", "B=x=y", "--port", "8080", "--port", "9090",
            "--volume", "/data/p1:/vpod/data:ro", "--label", "team=ml", "--restart-policy", "always", "--output", "json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var spec = Assert.IsType<VPodSpec>(_cli.Client.DeployedSpec);
        Assert.Equal("trainer-2", spec.Name);
        Assert.Equal(VPodType.Validator, spec.Type);
        Assert.Equal(DeploymentMethod.Process, spec.DeploymentMethod);
        Assert.Equal(500, spec.CpuMillis);
        Assert.Equal(256L * 1024 * 1024, spec.MemoryBytes);
        Assert.Equal(["python3", "worker.py", "--epochs", "2"], spec.Command);
        Assert.Equal("1", spec.Env["A"]);
        Assert.Equal("x=y", spec.Env["B"]);
        Assert.Equal([8080, 9090], spec.Ports);
        Assert.Equal(new VolumeMount("/data/p1", "/vpod/data", ReadOnly: true), Assert.Single(spec.Volumes));
        Assert.Equal("ml", spec.Labels["team"]);
        Assert.Equal(RestartPolicy.Always, spec.RestartPolicy);

        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal("vpod-deadbeef", json.RootElement.GetProperty("id").GetString());
        Assert.Equal("Provisioning", json.RootElement.GetProperty("phase").GetString());
        Assert.Equal("Always", json.RootElement.GetProperty("spec").GetProperty("restartPolicy").GetString());
    }

    [Fact]
    public async Task Create_ExitsWithUsageErrorNamingMemory_WhenMemoryIsInvalid()
    {
        var result = await _cli.RunAsync("vpod", "create", "--name", "n1", "--type", "compute", "--cpu", "1", "--memory", "12XB");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains("--memory", line);
        Assert.Contains("12XB", line);
        Assert.Empty(_cli.Connections);
        Assert.Null(_cli.Client.DeployedSpec);
    }

    [Fact]
    public async Task Create_ReportsEveryBadFlagOnOneLine_WhenSeveralAreInvalid()
    {
        var result = await _cli.RunAsync("vpod", "create", "--name", "n1", "--type", "gpu", "--cpu", "lots", "--memory", "1Gi", "--port", "70000");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains("--type", line);
        Assert.Contains("--cpu", line);
        Assert.Contains("--port", line);
        Assert.Contains("70000", line);
    }

    [Fact]
    public async Task Status_ExitsWithOneLineError_WhenIdIsUnknown()
    {
        var result = await _cli.RunAsync("vpod", "status", "--id", "vpod-ffffffff");

        Assert.Equal(ExitCodes.OperationFailed, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error:", line);
        Assert.Contains("vpod-ffffffff", line);
        Assert.Contains("does not exist", line);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task Start_ExitsWithOneLineError_WhenOperationIsNotAllowedInPhase()
    {
        _cli.Client.ManageError = new InvalidVPodOperationException(KnownId, VPodTrigger.Start, VPodPhase.Running);

        var result = await _cli.RunAsync("vpod", "start", "--id", KnownId);

        Assert.Equal(ExitCodes.OperationFailed, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains(KnownId, line);
        Assert.Contains("cannot start while Running", line);
        Assert.DoesNotContain(" at ", result.Stderr);
    }

    [Fact]
    public async Task Command_ExitsWithOneLineErrorNamingGateway_WhenClusterIsUnreachable()
    {
        _cli.ConnectFailure = options => new MetaNodeConnectionException(
            $"Cannot reach the MetaNode cluster through gateway {string.Join(", ", options.Gateways)} within 3 s: connection refused");

        var result = await _cli.RunAsync("vpod", "list", "--gateway", "127.0.0.1:31999");

        Assert.Equal(ExitCodes.OperationFailed, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains("127.0.0.1:31999", line);
        var options = Assert.Single(_cli.Connections);
        Assert.Equal(["127.0.0.1:31999"], options.Gateways);
        Assert.Null(options.ConnectionString);
    }

    [Fact]
    public async Task Command_ExitsWithUsageErrorNamingGateway_WhenGatewayHasNoPort()
    {
        var result = await _cli.RunAsync("vpod", "list", "--gateway", "127.0.0.1");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains("--gateway", line);
        Assert.Contains("'127.0.0.1'", line);
        Assert.Empty(_cli.Connections);
    }

    [Fact]
    public async Task Command_PassesEveryGateway_WhenGatewayIsRepeated()
    {
        var result = await _cli.RunAsync("--gateway", "127.0.0.1:30000", "vpod", "list", "-g", "localhost:30001");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Equal(["127.0.0.1:30000", "localhost:30001"], Assert.Single(_cli.Connections).Gateways);
    }

    [Fact]
    public async Task Command_UsesDatabaseClustering_WhenConnectionStringIsGiven()
    {
        var result = await _cli.RunAsync("vpod", "list", "--connection-string", "Host=127.0.0.1;Port=5433;Database=metanode;Username=m");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var options = Assert.Single(_cli.Connections);
        Assert.True(options.UsesDatabaseClustering);
        Assert.Contains("Port=5433", options.ConnectionString);
    }

    [Fact]
    public async Task Command_RejectsGatewayWithConnectionString()
    {
        var result = await _cli.RunAsync("vpod", "list", "--gateway", "127.0.0.1:30000", "--connection-string", "Host=127.0.0.1");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("--connection-string", Assert.Single(result.ErrorLines));
    }

    [Theory]
    [InlineData("vpod", "status")]
    [InlineData("vpod", "status", "--id", "pod-1")]
    [InlineData("vpod", "status", "--id", "vpod-UPPER")]
    [InlineData("vpod", "status", "--id", KnownId, "--output", "xml")]
    [InlineData("vpod", "frobnicate")]
    [InlineData("vpod")]
    [InlineData("vpod", "logs", "--id", KnownId, "--since", "yesterday")]
    [InlineData("vpod", "logs", "--id", KnownId, "--lines", "-3")]
    [InlineData("vpod", "stop", "--id", KnownId, "--timeout", "soon")]
    public async Task Command_ExitsWithOneLineUsageError_WhenCommandLineIsWrong(params string[] args)
    {
        var result = await _cli.RunAsync(args);

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error:", line);
        Assert.Empty(_cli.Connections);
    }

    [Fact]
    public async Task Stop_PassesForceAndTimeout_AndPrintsNewPhase()
    {
        var result = await _cli.RunAsync("vpod", "stop", "--id", KnownId, "--force", "--timeout", "3");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var (id, action, options) = _cli.Client.LastManage!.Value;
        Assert.Equal(KnownId, id);
        Assert.Equal(VPodAction.Stop, action);
        Assert.Equal(new StopOptions(Force: true, TimeoutSeconds: 3), options);
        Assert.Contains("Stopping", result.Stdout);
    }

    [Fact]
    public async Task Restart_PassesForceAndTimeout_AsStopDoes()
    {
        var result = await _cli.RunAsync("vpod", "restart", "--id", KnownId, "--force", "--timeout", "3");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Equal((KnownId, VPodAction.Restart, new StopOptions(Force: true, TimeoutSeconds: 3)), _cli.Client.LastManage!.Value);
        var refused = await new CliRunner().RunAsync("vpod", "restart", "--id", KnownId, "--timeout", "7200");
        Assert.Equal(ExitCodes.UsageError, refused.ExitCode);
        Assert.Contains("--timeout", refused.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("start", VPodAction.Start, "Starting")]
    [InlineData("restart", VPodAction.Restart, "Restarting")]
    [InlineData("delete", VPodAction.Delete, "Deleted")]
    public async Task Manage_CallsAction_AndPrintsStatusJson(string verb, VPodAction expected, string phase)
    {
        var result = await _cli.RunAsync("vpod", verb, "--id", KnownId, "--output", "json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Equal(expected, _cli.Client.LastManage!.Value.Action);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(phase, json.RootElement.GetProperty("phase").GetString());
    }

    [Fact]
    public async Task Logs_PrintsTimestampStreamAndText_InTableMode()
    {
        _cli.Client.Logs.Add(new LogLine(new DateTimeOffset(2026, 1, 31, 12, 0, 1, 250, TimeSpan.Zero), LogStream.Stdout, "epoch 1 loss 0.5"));
        _cli.Client.Logs.Add(new LogLine(new DateTimeOffset(2026, 1, 31, 12, 0, 2, TimeSpan.Zero), LogStream.Stderr, "warning: slow"));

        var result = await _cli.RunAsync("vpod", "logs", "--id", KnownId, "--lines", "50", "--since", "1h");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(["2026-01-31T12:00:01.250Z stdout epoch 1 loss 0.5", "2026-01-31T12:00:02.000Z stderr warning: slow"], lines);
        var query = _cli.Client.LastLogQuery!;
        Assert.Equal(50, query.Tail);
        Assert.NotNull(query.Since);
        Assert.InRange(DateTimeOffset.UtcNow - query.Since!.Value, TimeSpan.FromMinutes(59), TimeSpan.FromMinutes(61));
    }

    [Fact]
    public async Task Logs_PrintsOneJsonObjectPerLine_InJsonMode()
    {
        _cli.Client.Logs.Add(new LogLine(new DateTimeOffset(2026, 1, 31, 12, 0, 1, TimeSpan.Zero), LogStream.Stdout, "a"));
        _cli.Client.Logs.Add(new LogLine(new DateTimeOffset(2026, 1, 31, 12, 0, 2, TimeSpan.Zero), LogStream.Stderr, "b"));

        var result = await _cli.RunAsync("vpod", "logs", "--id", KnownId, "--output", "json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        Assert.Equal("Stdout", first.RootElement.GetProperty("stream").GetString());
        Assert.Equal("a", first.RootElement.GetProperty("text").GetString());
        using var second = JsonDocument.Parse(lines[1]);
        Assert.Equal("Stderr", second.RootElement.GetProperty("stream").GetString());
    }

    [Fact]
    public async Task LogsFollow_StreamsUntilCancelled_AndExitsZero()
    {
        _cli.Client.Logs.Add(new LogLine(DateTimeOffset.UtcNow, LogStream.Stdout, "first"));
        _cli.Client.FollowUntilCancelled = true;
        using var interrupt = new CancellationTokenSource();

        var run = _cli.RunAsync(["vpod", "logs", "--id", KnownId, "--follow"], interrupt.Token);
        await _cli.Client.FollowReachedEnd.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(run.IsCompleted, "the follow ended before it was interrupted");
        await interrupt.CancelAsync();
        var result = await run.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Contains("stdout first", result.Stdout);
        Assert.Empty(result.Stderr);
    }

    [Fact]
    public async Task MetricsJson_HasResourcesAndPhase()
    {
        var result = await _cli.RunAsync("vpod", "metrics", "--id", KnownId, "--output", "json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(KnownId, json.RootElement.GetProperty("id").GetString());
        Assert.Equal("Running", json.RootElement.GetProperty("phase").GetString());
        Assert.Equal(12.5, json.RootElement.GetProperty("resources").GetProperty("cpuPercent").GetDouble());
    }

    [Fact]
    public async Task MetricsTable_ShowsMemoryUse()
    {
        var result = await _cli.RunAsync("vpod", "metrics", "--id", KnownId);

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Contains("100.0 MiB / 256.0 MiB", result.Stdout);
    }

    [Fact]
    public async Task Help_PrintsCommandsToStdout_AndExitsZero()
    {
        var result = await _cli.RunAsync("vpod", "--help");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        foreach (var verb in new[] { "create", "list", "status", "logs", "start", "stop", "restart", "delete", "metrics" })
        {
            Assert.Contains(verb, result.Stdout);
        }
    }
}

public sealed class ChainCliTests
{
    private readonly CliRunner _cli = new();

    [Fact]
    public async Task ChainStatusJson_HasTheFieldsScriptsRead()
    {
        var result = await _cli.RunAsync("chain", "status", "--output", "json");
        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        foreach (var field in new[] { "rpcUrl", "chainId", "registry", "threshold", "validators", "lastBlock" })
        {
            Assert.True(root.TryGetProperty(field, out _), $"chain status JSON lacks '{field}': {result.Stdout}");
        }

        Assert.Equal(31337, root.GetProperty("chainId").GetInt64());
        Assert.Equal(3, root.GetProperty("validators").GetArrayLength());
    }

    [Fact]
    public async Task ChainFinalize_HashesTextAndKeepsHex()
    {
        var hex = "0x" + new string('A', 64);
        var result = await _cli.RunAsync("chain", "finalize", "--job", "job-1", "--round", "2", "--result-hash", hex, "--model-ref", "bafy-model", "--signer", "vpod-00000001", "--signer", "vpod-00000002");
        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var sent = _cli.Client.LastFinalize!;
        Assert.Equal(hex.ToLowerInvariant(), sent.Round.ResultHash);
        Assert.Equal("0x" + new string('0', 64), sent.Round.ReceiptsRoot);
        Assert.Equal("0x" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("bafy-model"u8)), sent.Round.ModelRef);
        Assert.Equal(["vpod-00000001", "vpod-00000002"], sent.SignerVPodIds);
        Assert.Contains("finalized in block 13", result.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("raw")]
    [InlineData("dag-pb")]
    public async Task ChainFinalize_SendsTheModelCid_WhenGiven(string codec)
    {
        var model = codec == "raw" ? "a small model"u8.ToArray() : new byte[MetaNode.Storage.UnixFsFile.ChunkSize * 2];
        var modelRef = "0x" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(model));
        var cid = MetaNode.Storage.UnixFsFile.ComputeCid(model).ToString();
        var result = await _cli.RunAsync("chain", "finalize", "--job", "job-1", "--round", "2", "--result-hash", "r", "--model-ref", modelRef, "--model-cid", cid);
        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Equal((modelRef, cid), (_cli.Client.LastFinalize!.Round.ModelRef, _cli.Client.LastFinalize.Round.ModelCid));
    }

    [Fact]
    public async Task ChainFinalize_SendsNoModelCid_WhenNoneIsGiven()
    {
        var result = await _cli.RunAsync("chain", "finalize", "--job", "job-1", "--round", "2", "--result-hash", "r");
        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Equal(string.Empty, _cli.Client.LastFinalize!.Round.ModelCid);
    }

    [Theory]
    [InlineData("not-a-cid", "must be a CIDv1")]
    [InlineData("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "must be a CIDv1")]
    [InlineData("", "must be a CIDv1")]
    [InlineData("raw CID of other bytes", "is not the model ref")]
    public async Task ChainFinalize_RefusesAModelCidThatIsNoCidV1TheRegistryRecords_WithUsageError(string value, string expected)
    {
        var model = "a small model"u8.ToArray();
        if (value == "raw CID of other bytes")
        {
            value = MetaNode.Storage.UnixFsFile.ComputeCid("other bytes"u8).ToString();
        }

        var result = await _cli.RunAsync("chain", "finalize", "--job", "job-1", "--round", "1", "--result-hash", "r", "--model-ref", "0x" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(model)), "--model-cid", value);
        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("--model-cid", result.Stderr, StringComparison.Ordinal);
        Assert.Contains(expected, result.Stderr, StringComparison.Ordinal);
        Assert.Null(_cli.Client.LastFinalize);
    }

    [Fact]
    public async Task ChainRound_ShowsTheModelCid_InTheTableAndJson()
    {
        const string Cid = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
        _cli.Client.Rounds[("job-1", 3)] = new MetaNode.Chain.RoundRecord { JobId = "job-1", Round = 3, Finalized = true, Verified = true, BlockNumber = 9, ResultHash = "0x" + new string('1', 64), ModelRef = "0x" + new string('3', 64), ModelCid = Cid };
        _cli.Client.Rounds[("job-1", 4)] = _cli.Client.Rounds[("job-1", 3)] with { Round = 4, ModelCid = string.Empty };

        var table = await _cli.RunAsync("chain", "round", "--job", "job-1", "--round", "3");
        Assert.True(table.ExitCode == ExitCodes.Success, table.ToString());
        Assert.Matches($@"Model CID\s+{Cid}", table.Stdout);
        Assert.Matches(@"Model CID\s+none", (await _cli.RunAsync("chain", "round", "--job", "job-1", "--round", "4")).Stdout);

        var json = await _cli.RunAsync("chain", "round", "--job", "job-1", "--round", "3", "--output", "json");
        Assert.Equal(Cid, JsonDocument.Parse(json.Stdout).RootElement.GetProperty("modelCid").GetString());
    }

    [Theory]
    [InlineData("--job", "a-job-id-that-is-longer-than-32-bytes", "--job")]
    [InlineData("--result-hash", "0x1234", "--result-hash")]
    [InlineData("--round", "-1", "--round")]
    public async Task ChainFinalize_RejectsBadFlags_WithUsageError(string flag, string value, string named)
    {
        var args = new Dictionary<string, string> { ["--job"] = "job-1", ["--round"] = "1", ["--result-hash"] = "r" };
        args[flag] = value;
        var result = await _cli.RunAsync(["chain", "finalize", .. args.SelectMany(a => new[] { a.Key, a.Value })]);
        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains(named, result.Stderr, StringComparison.Ordinal);
        Assert.Null(_cli.Client.LastFinalize);
    }
}
