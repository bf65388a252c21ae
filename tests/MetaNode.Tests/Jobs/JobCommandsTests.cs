using System.Text.Json;
using MetaNode.Cli;
using MetaNode.Federation;
using MetaNode.Grains.Federation;

namespace MetaNode.Tests.Jobs;

/// <summary><c>job ...</c> against a fake client: flags, JSON shape, exit codes, and bad input that starts nothing.</summary>
public sealed class JobCommandsTests
{
    private readonly Cli.CliRunner _cli = new();

    [Fact]
    public async Task JobRun_IsAUsageErrorThatStartsNothing_WhenOptionsAreInvalid()
    {
        var result = await _cli.RunAsync("job", "run", "--compute-cluster", "c", "--validator-cluster", "v", "--dataset", "digits", "--rounds", "0", "--partition", "dirichlet:-1", "--robust", "mean");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("rounds '0'", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("dirichlet:-1", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("robust 'mean'", result.Stderr, StringComparison.Ordinal);
        Assert.Null(_cli.Client.StartedJob);
    }

    [Fact]
    public async Task JobRun_PassesTheServerOptimizerAndFedProx_AndRefusesSettingsItCannotHonour()
    {
        _cli.Client.Jobs["job-adam"] = Completed("job-adam");
        var result = await _cli.RunAsync(
            "job", "run", "--job-id", "job-adam", "--compute-cluster", "c", "--validator-cluster", "v", "--dataset", "digits",
            "--server-optimizer", "adam", "--server-lr", "0.05", "--server-momentum", "0.8", "--proximal-mu", "0.01", "--output", "json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Equal(new ServerOptimizer(ServerOptimizerKind.Adam, 0.05, 0.8, 0.99, 0.01), _cli.Client.StartedJob!.ServerOptimizer);
        Assert.Equal(0.01, _cli.Client.StartedJob.ProximalMu);

        var defaults = new Cli.CliRunner();
        defaults.Client.Jobs["job-default"] = Completed("job-default");
        Assert.Equal(ExitCodes.Success, (await defaults.RunAsync("job", "run", "--job-id", "job-default", "--compute-cluster", "c", "--validator-cluster", "v", "--dataset", "digits", "--output", "json")).ExitCode);
        Assert.Equal(ServerOptimizer.Default, defaults.Client.StartedJob!.ServerOptimizer);

        foreach (var (options, expected) in new (string[] Options, string Expected)[]
        {
            (["--server-optimizer", "avg", "--server-lr", "2"], "takes no server-lr or server-momentum"),
            (["--server-optimizer", "sgd"], "server-optimizer 'sgd' is unknown"),
            (["--server-momentum", "1"], "server-momentum '1' is invalid"),
            (["--server-lr", "-1"], "server-lr '-1' is invalid"),
            (["--proximal-mu", "-0.5"], "proximal-mu '-0.5' is invalid"),
        })
        {
            var refused = new Cli.CliRunner();
            string[] arguments = ["job", "run", "--compute-cluster", "c", "--validator-cluster", "v", "--dataset", "digits", .. options];
            var outcome = await refused.RunAsync(arguments, CancellationToken.None);
            Assert.Equal(ExitCodes.UsageError, outcome.ExitCode);
            Assert.Contains(expected, outcome.Stderr, StringComparison.Ordinal);
            Assert.Null(refused.Client.StartedJob);
        }
    }

    [Fact]
    public async Task JobRun_RefusesDevZeroAtOnce_WithoutReadingItOrConnecting()
    {
        var allocated = GC.GetTotalAllocatedBytes(precise: true);

        var result = await _cli.RunAsync("job", "run", "--compute-cluster", "c", "--validator-cluster", "v", "--dataset", "/dev/zero");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("'/dev/zero' is not a regular file", result.Stderr, StringComparison.Ordinal);
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - allocated < 16L * 1024 * 1024, "refusing /dev/zero allocated 16 MiB or more: it was read");
        Assert.Empty(_cli.Client.Uploads);
        Assert.Null(_cli.Client.StartedJob);
    }

    [Fact]
    public async Task JobRun_RefusesAFileOverTheUploadLimit_BeforeReadingIt()
    {
        var path = Path.Combine(Path.GetTempPath(), $"metanode-{Guid.NewGuid():N}.csv");
        await File.WriteAllTextAsync(path, string.Concat(Enumerable.Repeat("1,2,0\n", 1000)));
        try
        {
            var result = await _cli.RunAsync("job", "run", "--compute-cluster", "c", "--validator-cluster", "v", "--dataset", path, "--max-upload-bytes", "1024");

            Assert.Equal(ExitCodes.UsageError, result.ExitCode);
            Assert.Contains("is 6000 bytes, more than the limit of 1024 bytes", result.Stderr, StringComparison.Ordinal);
            Assert.Empty(_cli.Client.Uploads);
            Assert.Null(_cli.Client.StartedJob);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task JobRun_UploadsALocalFile_AndStartsTheJobWithItsHash_OrPassesASiloPathUnread()
    {
        var path = Path.Combine(Path.GetTempPath(), $"metanode-{Guid.NewGuid():N}.csv");
        await File.WriteAllTextAsync(path, "1,2,0\n3,4,1\n");
        try
        {
            _cli.Client.Jobs["job-up"] = Completed("job-up");
            var result = await _cli.RunAsync("job", "run", "--job-id", "job-up", "--compute-cluster", "c", "--validator-cluster", "v", "--dataset", path);

            Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
            var bytes = Assert.Single(_cli.Client.Uploads);
            Assert.Equal(await File.ReadAllBytesAsync(path), bytes);
            Assert.Equal("sha256:" + DatasetFiles.Hash(bytes), _cli.Client.StartedJob!.Dataset);
        }
        finally
        {
            File.Delete(path);
        }

        _cli.Client.Jobs["job-silo"] = Completed("job-silo");
        var silo = await _cli.RunAsync("job", "run", "--job-id", "job-silo", "--compute-cluster", "c", "--validator-cluster", "v", "--dataset", "silo:sets/a.csv");

        Assert.True(silo.ExitCode == ExitCodes.Success, silo.ToString());
        Assert.Equal("sets/a.csv", _cli.Client.StartedJob!.Dataset);
        Assert.Single(_cli.Client.Uploads);
    }

    [Fact]
    public async Task JobRun_PassesEveryOptionAndPrintsResultsJson_WhenTheJobCompletes()
    {
        _cli.Client.Jobs["job-cli"] = Completed("job-cli");

        var result = await _cli.RunAsync(
            "job", "run", "--job-id", "job-cli", "--compute-cluster", "c", "--validator-cluster", "v", "--dataset", "digits", "--partition", "dirichlet:0.5",
            "--rounds", "2", "--local-epochs", "3", "--batch", "8", "--lr", "0.05", "--min-participants", "4", "--round-deadline", "45s", "--quorum", "2",
            "--seed", "9", "--robust", "trimmed-mean:0.1", "--output", "json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var spec = _cli.Client.StartedJob!;
        Assert.Equal(("c", "v", "digits", PartitionScheme.Dirichlet(0.5)), (spec.ComputeCluster, spec.ValidatorCluster, spec.Dataset, spec.Partition));
        Assert.Equal((2, 3, 8, 0.05, 4, TimeSpan.FromSeconds(45), 2, 9UL), (spec.Rounds, spec.LocalEpochs, spec.BatchSize, spec.LearningRate, spec.MinParticipants, spec.RoundDeadline, spec.Quorum, spec.Seed));
        Assert.Equal(AggregationRule.TrimmedMean(0.1), spec.Robust);

        var root = JsonDocument.Parse(result.Stdout).RootElement;
        Assert.Equal(0.96, root.GetProperty("finalAccuracy").GetDouble());
        var round = root.GetProperty("rounds")[1];
        Assert.Equal(2, round.GetProperty("round").GetInt32());
        Assert.Equal(0.96, round.GetProperty("accuracy").GetDouble());
        Assert.Equal(3, round.GetProperty("participants").GetInt32());
        Assert.Equal("0x" + new string('2', 64), round.GetProperty("resultHash").GetString());
        Assert.Equal("0x" + new string('d', 64), round.GetProperty("modelRef").GetString());
        Assert.Equal(SampleCid, round.GetProperty("modelCid").GetString());
        Assert.Equal("0xfeed", round.GetProperty("txHash").GetString());
        Assert.Equal(["vpod-v-0", "vpod-v-1"], round.GetProperty("validators").EnumerateArray().Select(v => v.GetString()));
    }

    [Fact]
    public async Task JobResults_ShowsEachRoundsModelCid_InTheTableAndJson()
    {
        var status = Completed("job-cid");
        _cli.Client.Jobs["job-cid"] = status with { Results = [status.Results[0] with { ModelCid = null }, status.Results[1]] };

        var json = await _cli.RunAsync("job", "results", "--id", "job-cid", "--output", "json");
        Assert.True(json.ExitCode == ExitCodes.Success, json.ToString());
        var rounds = JsonDocument.Parse(json.Stdout).RootElement.GetProperty("rounds");
        Assert.Equal(JsonValueKind.Null, rounds[0].GetProperty("modelCid").ValueKind);
        Assert.Equal(SampleCid, rounds[1].GetProperty("modelCid").GetString());

        var table = await _cli.RunAsync("job", "results", "--id", "job-cid");
        Assert.True(table.ExitCode == ExitCodes.Success, table.ToString());
        Assert.Contains("MODEL CID", table.Stdout, StringComparison.Ordinal);

        // The cell wraps in a narrow table; its pieces, in order, are the CID.
        var cells = table.Stdout.Split('\n').Select(line => line.Split('│')).Where(cells => cells.Length > 7).Select(cells => cells[6].Trim());
        Assert.Contains(SampleCid, string.Concat(cells), StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobRun_PrintsOneLinePerRoundAndFails_WhenTheJobFails()
    {
        _cli.Client.Jobs["job-bad"] = Completed("job-bad") with { Phase = FederatedJobPhase.Failed, Reason = "round 3: no 2 validators agreed" };

        var result = await _cli.RunAsync("job", "run", "--job-id", "job-bad", "--compute-cluster", "c", "--validator-cluster", "v", "--dataset", "digits");

        Assert.Equal(ExitCodes.OperationFailed, result.ExitCode);
        Assert.Contains("round 1/2", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("round 2/2", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("no 2 validators agreed", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobStatus_IsAnError_WhenTheJobDoesNotExist()
    {
        var result = await _cli.RunAsync("job", "status", "--id", "job-missing");

        Assert.Equal(ExitCodes.OperationFailed, result.ExitCode);
        Assert.Contains("job-missing", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobModel_WritesTheLastRoundsCheckedBytes_AndRefusesWhatDoesNotMatchItsReference()
    {
        var bytes = new byte[] { 0x4d, 0x4e, 0x4d, 0x31, 1, 2, 3 };
        var reference = "0x" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        var status = Completed("job-m");
        _cli.Client.Jobs["job-m"] = status with { Results = [status.Results[0], status.Results[1] with { ModelRef = reference }] };
        _cli.Client.Models[("job-m", 2)] = bytes;
        _cli.Client.Models[("job-m", 1)] = [9, 9];
        var directory = Directory.CreateTempSubdirectory("metanode-model-");
        try
        {
            var path = Path.Combine(directory.FullName, "model.bin");
            var result = await _cli.RunAsync("job", "model", "--id", "job-m", "--out", path, "--output", "json");
            Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
            Assert.Equal(bytes, await File.ReadAllBytesAsync(path));
            var root = JsonDocument.Parse(result.Stdout).RootElement;
            Assert.Equal(2, root.GetProperty("round").GetInt32());
            Assert.Equal(reference, root.GetProperty("modelRef").GetString());
            Assert.Equal(bytes.Length, root.GetProperty("bytes").GetInt64());

            // Round 1's stored bytes do not hash to its reference: an error, and the file is not touched.
            var other = Path.Combine(directory.FullName, "round1.bin");
            var mismatch = await _cli.RunAsync("job", "model", "--id", "job-m", "--round", "1", "--out", other);
            Assert.Equal(ExitCodes.OperationFailed, mismatch.ExitCode);
            Assert.Contains("nothing was written", mismatch.Stderr, StringComparison.Ordinal);
            Assert.False(File.Exists(other));

            var missing = await _cli.RunAsync("job", "model", "--id", "job-m", "--round", "3", "--out", other);
            Assert.Equal(ExitCodes.OperationFailed, missing.ExitCode);
            Assert.Contains("round 3 of job 'job-m' is not finalized", missing.Stderr, StringComparison.Ordinal);

            var bad = await _cli.RunAsync("job", "model", "--id", "job-m", "--round", "0", "--out", other);
            Assert.Equal(ExitCodes.UsageError, bad.ExitCode);
            Assert.False(File.Exists(other));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void FederatedJobOptionsValidator_ReportsEveryBadValue()
    {
        var result = new FederatedJobOptionsValidator().Validate(null, new FederatedJobOptions
        {
            PumpInterval = TimeSpan.Zero,
            KeepAlivePeriod = TimeSpan.FromDays(2),
            RedispatchInterval = TimeSpan.Zero,
            StepRetryTimeout = TimeSpan.Zero,
            StepRetryDelay = TimeSpan.FromHours(1),
        });

        Assert.True(result.Failed);
        Assert.Equal(5, result.Failures!.Count());
        Assert.All(result.Failures!, f => Assert.StartsWith("MetaNode:Federation:Jobs:", f, StringComparison.Ordinal));
        Assert.True(new FederatedJobOptionsValidator().Validate(null, new FederatedJobOptions()).Succeeded);
    }

    private static FederatedJobStatus Completed(string id) => new()
    {
        JobId = id,
        Phase = FederatedJobPhase.Completed,
        Round = 2,
        Rounds = 2,
        Results =
        [
            Round(id, 1, '1', 0.9),
            Round(id, 2, '2', 0.96),
        ],
    };

    private const string SampleCid = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";

    private static RoundResult Round(string id, int round, char hash, double accuracy) => new()
    {
        Job = id,
        Round = round,
        Participants = ["vpod-c-0", "vpod-c-1", "vpod-c-2"],
        ResultHash = "0x" + new string(hash, 64),
        ReceiptsRoot = "0x" + new string('f', 64),
        ModelRef = "0x" + new string('d', 64),
        ModelCid = SampleCid,
        TxHash = "0xfeed",
        Accuracy = accuracy,
        Validators = ["vpod-v-0", "vpod-v-1"],
    };
}
