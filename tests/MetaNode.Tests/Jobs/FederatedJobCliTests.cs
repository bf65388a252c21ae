using System.Text.Json;
using MetaNode.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MetaNode.Tests.Jobs;

/// <summary>The issue's "done means", as a user runs it: the embedded silo process with its dev chain, and the CLI.</summary>
public sealed class FederatedJobCliTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-job-e2e", Guid.NewGuid().ToString("N")[..10]);
    private readonly OtlpReceiver _traces = new();
    private SiloProcess _silo = null!;

    public async Task InitializeAsync()
    {
        _silo = new SiloProcess(
            _dataDirectory,
            $"--MetaNode:Chain:DevChain:AnvilPath={AnvilNode.BinaryPath}",
            $"--MetaNode:Telemetry:OtlpEndpoint={_traces.Endpoint}",
            "--MetaNode:Telemetry:OtlpProtocol=http/protobuf",
            "--MetaNode:Chain:ReceiptPollInterval=00:00:00.020",
            "--MetaNode:VPods:ProbeInterval=00:00:00.300",
            "--MetaNode:Capacity:Cpu=64",
            "--MetaNode:Federation:Jobs:PumpInterval=00:00:00.100");
        await _silo.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _silo.DisposeAsync();
        _traces.Dispose();
        SiloProcess.KillWorkloadsUnder(_dataDirectory);
        try
        {
            MetaNode.Tests.Infrastructure.SiloProcess.DeleteSiloDirectories(_dataDirectory);
        }
        catch (IOException)
        {
            // A file still held open by an exiting process: the temporary directory is left for the OS to clean.
        }
    }

    [Fact]
    public async Task JobRun_FinishesAbove095AndEveryRoundIsOnChain_WhenTenComputeAndThreeValidatorVPodsRunDigits()
    {
        var cli = _silo.Cli();
        await cli.JsonAsync("cluster", "deploy", "--name", "compute", "--count", "10", "--type", "compute", "--cpu", "1", "--memory", "200Mi");
        await cli.JsonAsync("cluster", "deploy", "--name", "validators", "--count", "3", "--type", "validator", "--cpu", "1", "--memory", "200Mi");
        foreach (var (cluster, count) in new[] { ("compute", 10), ("validators", 3) })
        {
            await Eventually.WaitAsync(
                () => cli.JsonAsync("cluster", "status", "--name", cluster),
                s => s.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("phase").GetString() == "Running") == count,
                $"{count} running members of {cluster}",
                TimeSpan.FromSeconds(120));
        }

        var chain = await cli.JsonAsync("chain", "deploy", "--threshold", "2");
        Assert.Equal(3, chain.GetProperty("validators").GetArrayLength());

        var run = await cli.JsonAsync(
            "job", "run", "--algorithm", "federated-average", "--compute-cluster", "compute", "--validator-cluster", "validators",
            "--dataset", "digits", "--partition", "dirichlet:0.5", "--rounds", "10", "--local-epochs", "5", "--batch", "16", "--lr", "0.1",
            "--min-participants", "10", "--round-deadline", "30s", "--quorum", "2", "--seed", "1");
        var jobId = run.GetProperty("jobId").GetString()!;
        output.WriteLine(run.ToString());

        var results = await cli.JsonAsync("job", "results", "--id", jobId);
        Assert.True(results.GetProperty("finalAccuracy").GetDouble() >= 0.95, $"final accuracy {results.GetProperty("finalAccuracy")}");
        var rounds = results.GetProperty("rounds").EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(1, 10), rounds.Select(r => r.GetProperty("round").GetInt32()));
        foreach (var round in rounds)
        {
            Assert.Equal(10, round.GetProperty("participants").GetInt32());
            Assert.True(round.GetProperty("validators").GetArrayLength() >= 2);
            var onChain = await cli.JsonAsync("chain", "round", "--job", jobId, "--round", round.GetProperty("round").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.True(onChain.GetProperty("verified").GetBoolean());
            Assert.Equal(Text(round, "resultHash"), Text(onChain, "resultHash"));
            Assert.Equal(Text(round, "modelRef"), Text(onChain, "modelRef"));
            Assert.StartsWith("bafkrei", Text(round, "modelCid"), StringComparison.Ordinal);
            Assert.Equal(Text(round, "modelCid"), Text(onChain, "modelCid"));
            Assert.Equal(Text(round, "receiptsRoot"), Text(onChain, "receiptsRoot"));
            Assert.Equal(Text(round, "txHash"), Text(onChain, "transactionHash"));
        }

        // The last round's model, written by the CLI, hashes to the model reference the chain holds for that round.
        var modelPath = Path.Combine(Path.GetTempPath(), $"metanode-model-{jobId}.bin");
        try
        {
            var export = await cli.JsonAsync("job", "model", "--id", jobId, "--out", modelPath);
            Assert.Equal(10, export.GetProperty("round").GetInt32());
            var lastOnChain = await cli.JsonAsync("chain", "round", "--job", jobId, "--round", "10");
            Assert.Equal(Text(lastOnChain, "modelRef"), "0x" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(modelPath))));
            Assert.Equal(Text(lastOnChain, "modelCid"), MetaNode.Storage.UnixFsFile.ComputeCid(await File.ReadAllBytesAsync(modelPath)).ToString());
        }
        finally
        {
            File.Delete(modelPath);
        }

        // The silo sent the rounds' traces to the OTLP endpoint it was given: the job's round spans, the training calls, the
        // validators' aggregation and the chain transaction, with the job's id as an attribute.
        await Eventually.WaitAsync(
            () => Task.FromResult(_traces.Received),
            t => new[] { "metanode.round", "metanode.round.dispatch", "metanode.vpod.train", "metanode.validator.aggregate", "metanode.chain.finalize", jobId }.All(x => t.Contains(x, StringComparison.Ordinal)),
            "the round's spans at the OTLP endpoint",
            TimeSpan.FromSeconds(30));

        // The listing is updated one-way, after the job's own record.
        await Eventually.WaitAsync(
            () => cli.JsonAsync("job", "list"),
            list => list.EnumerateArray().Any(j => j.GetProperty("jobId").GetString() == jobId && j.GetProperty("phase").GetString() == "Completed"),
            "the job listed as Completed",
            TimeSpan.FromSeconds(30));

        // Hashes no validator computed: refused with exit 1, nothing sent; the round on chain keeps the job's result.
        var forged = await cli.RunAsync("chain", "finalize", "--job", jobId, "--round", "11", "--result-hash", "0x" + new string('1', 64), "--receipts-root", "0x" + new string('2', 64), "--model-ref", "0x" + new string('3', 64));
        Assert.Equal(1, forged.ExitCode);
        Assert.Contains("no validator signed this result", forged.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, (await cli.RunAsync("chain", "round", "--job", jobId, "--round", "11")).ExitCode);

        // vpod status shows each vPod's address as its workload proved it.
        var computeCluster = await cli.JsonAsync("cluster", "status", "--name", "compute");
        foreach (var member in computeCluster.GetProperty("members").EnumerateArray())
        {
            var status = await cli.JsonAsync("vpod", "status", "--id", member.GetProperty("id").GetString()!);
            Assert.Equal("Proven", status.GetProperty("identity").GetString());
            Assert.Matches("^0x[0-9a-f]{40}$", status.GetProperty("address").GetString());
            Assert.Equal(status.GetProperty("address").GetString(), status.GetProperty("provedAddress").GetString());
        }

        // A finished job cannot be cancelled; asking changes nothing.
        var cancel = await cli.RunAsync("job", "cancel", "--id", jobId);
        Assert.NotEqual(0, cancel.ExitCode);
        Assert.Contains("ended", cancel.Stderr, StringComparison.Ordinal);

        // Round 1 against a new registry: chain finalize takes it only with the model CID the job recorded. (The old registry's
        // signatures do not count on the new one, so the right CID gets as far as the signature check, and nothing is sent.)
        var first = rounds[0];
        var cid = Text(first, "modelCid")!;
        string[] Finalize(params string[] extra) =>
            ["chain", "finalize", "--job", jobId, "--round", "1", "--result-hash", Text(first, "resultHash")!, "--receipts-root", Text(first, "receiptsRoot")!, "--model-ref", Text(first, "modelRef")!, .. extra];
        await cli.JsonAsync("chain", "deploy", "--threshold", "2");
        var notACid = await cli.RunAsync(Finalize("--model-cid", "not-a-cid"));
        Assert.Equal(2, notACid.ExitCode);
        Assert.Contains("--model-cid must be a CIDv1", notACid.Stderr, StringComparison.Ordinal);
        var otherCid = MetaNode.Storage.UnixFsFile.ComputeCid(new byte[MetaNode.Storage.UnixFsFile.ChunkSize + 1]).ToString();
        foreach (var wrong in new[] { Finalize("--model-cid", otherCid), Finalize() })
        {
            var refused = await cli.RunAsync(wrong);
            Assert.Equal(2, refused.ExitCode);
            Assert.Contains($"names model CID {cid}", refused.Stderr, StringComparison.Ordinal);
        }

        var right = await cli.RunAsync(Finalize("--model-cid", cid));
        Assert.NotEqual(0, right.ExitCode);
        Assert.Contains("signature(s) of its current set", right.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, (await cli.RunAsync("chain", "round", "--job", jobId, "--round", "1")).ExitCode);
    }

    private static string? Text(JsonElement element, string property) => element.GetProperty(property).GetString()?.ToLowerInvariant();
}
