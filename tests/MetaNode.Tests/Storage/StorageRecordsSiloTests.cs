using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using MetaNode.Storage;
using MetaNode.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MetaNode.Tests.Storage;

/// <summary>db.lock records across a silo restart, and a job that stores every round's model and record by CID.</summary>
public sealed class StorageRecordsSiloTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-storage-records", Guid.NewGuid().ToString("N")[..10]);
    private SiloProcess _silo = null!;

    private CliRunner Cli => _silo.Cli();

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.Combine(_dataDirectory, "scratch"));
        _silo = new SiloProcess(
            _dataDirectory,
            $"--MetaNode:Chain:DevChain:AnvilPath={AnvilNode.BinaryPath}",
            "--MetaNode:Chain:ReceiptPollInterval=00:00:00.020",
            "--MetaNode:VPods:ProbeInterval=00:00:00.300",
            "--MetaNode:Capacity:Cpu=64",
            "--MetaNode:Federation:Jobs:PumpInterval=00:00:00.100",
            "--MetaNode:Storage:RepairInterval=00:00:00.300");
        await _silo.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _silo.DisposeAsync();
        SiloProcess.KillWorkloadsUnder(_dataDirectory);
        try
        {
            SiloProcess.DeleteSiloDirectories(_dataDirectory);
        }
        catch (IOException)
        {
            // A file still held open by an exiting process: the temporary directory is left for the OS to clean.
        }
    }

    [Fact]
    public async Task Lock_BindsANameOnce_RefusesASecondBind_AndKeepsItsHistoryAcrossASiloRestart()
    {
        await DeployAsync("records", 2, "storage", "--replication", "2");
        var first = await PutAsync("first", "the first model\n");
        var second = await PutAsync("second", "another model\n");

        var bound = await Cli.JsonAsync("storage", "lock", "models/digits/v1", first);
        Assert.Equal(first, bound.GetProperty("cid").GetString());
        Assert.Equal(1, bound.GetProperty("sequence").GetInt64());

        var again = await Cli.RunAsync("storage", "lock", "models/digits/v1", second);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already bound to " + first, again.Stderr, StringComparison.Ordinal);
        var same = await Cli.RunAsync("storage", "lock", "models/digits/v1", first);
        Assert.Equal(1, same.ExitCode);
        Assert.Equal(2, (await Cli.RunAsync("storage", "lock", "/bad//name", first)).ExitCode);
        var missing = await Cli.RunAsync("storage", "lock", "models/missing", Cid.Of(Multicodec.Raw, "never stored"u8).ToString());
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("is not stored", missing.Stderr, StringComparison.Ordinal);
        await Cli.JsonAsync("storage", "lock", "models/digits/v2", second);

        var before = (await Cli.JsonAsync("storage", "history")).ToString();
        await _silo.StopAsync();
        await _silo.StartAsync();

        Assert.Equal(first, (await Cli.JsonAsync("storage", "resolve", "models/digits/v1")).GetProperty("cid").GetString());
        var history = await Cli.JsonAsync("storage", "history");
        Assert.Equal(before, history.ToString());
        Assert.Equal(["models/digits/v1", "models/digits/v2"], history.EnumerateArray().Select(r => r.GetProperty("name").GetString()));
        Assert.All(history.EnumerateArray(), r => Assert.False(string.IsNullOrEmpty(r.GetProperty("by").GetString())));
        Assert.Equal(1, (await Cli.RunAsync("storage", "lock", "models/digits/v1", second)).ExitCode);
        Assert.Equal(1, (await Cli.RunAsync("storage", "resolve", "models/none")).ExitCode);
    }

    [Fact]
    public async Task JobWithAStorageCluster_StoresEveryRoundsModelAndRecordByCid_AndTheGatewayServesThem()
    {
        await Task.WhenAll(
            DeployAsync("models", 3, "storage"),
            DeployAsync("compute", 2, "compute", "--cpu", "1"),
            DeployAsync("validators", 3, "validator", "--cpu", "1"));
        await Cli.JsonAsync("chain", "deploy", "--threshold", "2");

        // 3,300 features and 10 classes: a model of 264,092 bytes, more than one chunk, so its CID is a dag-pb root.
        var csv = Path.Combine(_dataDirectory, "scratch", "wide.csv");
        await File.WriteAllTextAsync(csv, WideCsv(rows: 200, features: 3300));
        // A storage cluster that is not one is refused before anything runs.
        var wrong = await Cli.RunAsync("job", "run", "--compute-cluster", "compute", "--validator-cluster", "validators", "--storage-cluster", "compute", "--dataset", "digits");
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.Contains("needs storage vPods", wrong.Stderr, StringComparison.Ordinal);

        var run = await Cli.JsonAsync(
            "job", "run", "--compute-cluster", "compute", "--validator-cluster", "validators", "--storage-cluster", "models",
            "--dataset", csv, "--rounds", "2", "--local-epochs", "1", "--quorum", "2", "--round-deadline", "60s");
        var jobId = run.GetProperty("jobId").GetString()!;
        var status = await Cli.JsonAsync("job", "status", "--id", jobId);
        Assert.Equal("Completed", status.GetProperty("phase").GetString());

        using var http = new HttpClient { BaseAddress = _silo.HttpBase };
        var rounds = status.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(2, rounds.Count);
        foreach (var round in rounds)
        {
            var number = round.GetProperty("round").GetInt32();
            var modelCid = round.GetProperty("modelCid").GetString()!;
            Assert.StartsWith("bafy", modelCid, StringComparison.Ordinal);

            // The model the job keeps, the importer's CID of it, and what the gateway's CAR unpacks to are the same.
            var modelPath = Path.Combine(_dataDirectory, "scratch", $"model-{number}.bin");
            await Cli.JsonAsync("job", "model", "--id", jobId, "--round", number.ToString(CultureInfo.InvariantCulture), "--out", modelPath);
            Assert.True(new FileInfo(modelPath).Length > UnixFsFile.ChunkSize);
            Assert.Equal(await IpfsReference.CidAsync(modelPath), modelCid);
            var carPath = modelPath + ".car";
            await File.WriteAllBytesAsync(carPath, await http.GetByteArrayAsync($"/ipfs/{modelCid}"));
            var unpacked = modelPath + ".unpacked";
            await StorageSiloTests.CheckCarAsync(carPath, modelCid, unpacked);
            Assert.Equal(await File.ReadAllBytesAsync(modelPath), await File.ReadAllBytesAsync(unpacked));

            // The round record names the same model and result.
            var recordCid = round.GetProperty("recordCid").GetString()!;
            using var recordResponse = await http.GetAsync($"/ipfs/{recordCid}");
            Assert.Equal(HttpStatusCode.OK, recordResponse.StatusCode);
            var recordBytes = await recordResponse.Content.ReadAsByteArrayAsync();
            Assert.True(Cid.Parse(recordCid).Verifies(recordBytes));
            var record = JsonDocument.Parse(recordBytes).RootElement;
            Assert.Equal(modelCid, record.GetProperty("modelCid").GetString());
            Assert.Equal(round.GetProperty("resultHash").GetString(), record.GetProperty("resultHash").GetString());
            Assert.Equal(number, record.GetProperty("round").GetInt32());

            // It names every receipt the chain's receipts root covers, each signed by its compute vPod's own key.
            var receipts = record.GetProperty("receipts").EnumerateArray().Select(r => new MetaNode.Federation.TrainingReceipt(
                jobId, number, r.GetProperty("vpodId").GetString()!, r.GetProperty("sampleCount").GetInt64(), r.GetProperty("updateHash").GetString()!, r.GetProperty("signature").GetString())).ToList();
            Assert.Equal(2, receipts.Count);
            Assert.Equal(round.GetProperty("receiptsRoot").GetString(), MetaNode.Federation.ReceiptMerkleTree.RootHex(receipts.Select(MetaNode.Federation.ReceiptHashing.HashHex)), ignoreCase: true);
            var chainId = record.GetProperty("chainId").GetInt64();
            foreach (var receipt in receipts)
            {
                var address = (await Cli.StatusAsync(receipt.VPodId)).GetProperty("address").GetString()!;
                Assert.True(MetaNode.Chain.VPodTypedData.ReceiptSignedBy(receipt, chainId, address), $"{receipt.VPodId}'s receipt does not recover to {address}");
            }
            output.WriteLine($"round {number}: model {modelCid}, record {recordCid}");
        }

        var pins = await Cli.JsonAsync("storage", "ls", "--cluster", "models");
        Assert.Equal(4, pins.EnumerateArray().Count(p => p.GetProperty("owner").GetString() == "job:" + jobId));
    }

    private async Task DeployAsync(string name, int count, string type, params string[] extra)
    {
        await Cli.JsonAsync(["cluster", "deploy", "--name", name, "--count", count.ToString(CultureInfo.InvariantCulture), "--type", type, "--memory", "200Mi", .. extra]);
        await Eventually.WaitAsync(
            () => Cli.JsonAsync("cluster", "status", "--name", name),
            s => s.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("phase").GetString() == "Running") == count,
            $"{count} running members of {name}",
            TimeSpan.FromSeconds(120));
    }

    private async Task<string> PutAsync(string name, string text)
    {
        var path = Path.Combine(_dataDirectory, "scratch", name);
        await File.WriteAllTextAsync(path, text);
        return (await Cli.JsonAsync("storage", "put", path)).GetProperty("cid").GetString()!;
    }

    internal static string WideCsv(int rows, int features)
    {
        var random = new Random(7);
        var text = new StringBuilder();
        for (var r = 0; r < rows; r++)
        {
            var label = r % 10;
            for (var f = 0; f < features; f++)
            {
                // A few features carry the label; the rest are noise.
                text.Append(f < 10 ? (f == label ? '1' : '0') : (random.Next(2) == 0 ? '0' : '1')).Append(',');
            }

            text.Append(label.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        return text.ToString();
    }
}
