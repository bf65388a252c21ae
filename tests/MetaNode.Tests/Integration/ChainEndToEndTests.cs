using System.Globalization;
using System.Text;
using System.Text.Json;
using MetaNode.Tests.Infrastructure;
using Nethereum.Util;

namespace MetaNode.Tests.Integration;

/// <summary>
/// The "done means", as a user runs it: a real embedded silo (which starts its own anvil and deploys the
/// registry), the CLI, validator vPods signing with their own keys, and an independent JSON-RPC check of the event.
/// </summary>
public sealed class ChainEndToEndTests : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-e2e-chain", Guid.NewGuid().ToString("N")[..10]);
    private SiloProcess _silo = null!;

    public Task InitializeAsync()
    {
        _silo = new SiloProcess(_dataDirectory);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _silo.DisposeAsync();
        SiloProcess.KillWorkloadsUnder(_dataDirectory);
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by an exiting process: the temporary directory is left for the OS to clean.
        }
    }

    [Fact]
    public async Task EmbeddedSilo_FinalizesARoundOnce_AndAnIndependentClientSeesTheEvent()
    {
        await _silo.StartAsync(TimeSpan.FromSeconds(90));
        var cli = new CliRunner("--gateway", _silo.Gateway);

        var initial = await cli.JsonAsync("chain", "status");
        Assert.True(initial.GetProperty("enabled").GetBoolean(), initial.ToString());
        Assert.Equal(31337, initial.GetProperty("chainId").GetInt64());
        var rpcUrl = initial.GetProperty("rpcUrl").GetString()!;
        Assert.StartsWith("http://127.0.0.1:", rpcUrl, StringComparison.Ordinal);
        Assert.Matches("^0x[0-9a-f]{40}$", initial.GetProperty("registry").GetString());
        Assert.Equal(1, initial.GetProperty("threshold").GetInt32());
        Assert.Single(initial.GetProperty("validators").EnumerateArray());
        Assert.True(initial.GetProperty("lastBlock").GetInt64() >= 1);

        var validators = new List<(string Id, string Address)>();
        for (var i = 1; i <= 3; i++)
        {
            var created = await cli.JsonAsync("vpod", "create", "--name", $"e2e-validator-{i}", "--type", "validator", "--cpu", "100m", "--memory", "64Mi", "--command", "sleep 600");
            var address = created.GetProperty("address").GetString()!;
            Assert.Matches("^0x[0-9a-f]{40}$", address);
            validators.Add((created.GetProperty("id").GetString()!, address));
        }

        var deployed = await cli.JsonAsync("chain", "deploy", "--threshold", "2");
        var registry = deployed.GetProperty("registry").GetString()!;
        Assert.NotEqual(initial.GetProperty("registry").GetString(), registry);
        Assert.Equal(2, deployed.GetProperty("threshold").GetInt32());
        Assert.Equal(validators.Select(v => v.Address).Order(StringComparer.Ordinal), deployed.GetProperty("validators").EnumerateArray().Select(v => v.GetString()!).Order(StringComparer.Ordinal));

        var set = await cli.JsonAsync("chain", "validators");
        Assert.Equal(validators.Select(v => v.Id).Order(StringComparer.Ordinal), set.GetProperty("validators").EnumerateArray().Select(v => v.GetProperty("vPodId").GetString()!).Order(StringComparer.Ordinal));

        var resultHash = "0x" + new string('1', 64);
        var receiptsRoot = "0x" + new string('2', 64);
        var modelRef = "0x" + new string('3', 64);
        string[] finalize = ["chain", "finalize", "--job", "e2e-job", "--round", "1", "--result-hash", resultHash, "--receipts-root", receiptsRoot, "--model-ref", modelRef];
        var first = await cli.JsonAsync(finalize);
        Assert.Equal("Finalized", first.GetProperty("outcome").GetString());
        var transaction = first.GetProperty("transactionHash").GetString()!;
        Assert.Equal(2, first.GetProperty("signers").GetArrayLength());

        var round = await cli.JsonAsync("chain", "round", "--job", "e2e-job", "--round", "1");
        Assert.True(round.GetProperty("finalized").GetBoolean());
        Assert.True(round.GetProperty("verified").GetBoolean());
        Assert.Equal(resultHash, round.GetProperty("resultHash").GetString());
        Assert.Equal(receiptsRoot, round.GetProperty("receiptsRoot").GetString());
        Assert.Equal(modelRef, round.GetProperty("modelRef").GetString());
        Assert.Equal(transaction, round.GetProperty("transactionHash").GetString());

        var again = await cli.JsonAsync(finalize);
        Assert.Equal("AlreadyFinalized", again.GetProperty("outcome").GetString());
        Assert.Equal(transaction, again.GetProperty("transactionHash").GetString());
        var table = await cli.RunAsync(finalize);
        Assert.Contains("was already finalized", table.Stdout, StringComparison.Ordinal);

        var unknown = await cli.RunAsync("chain", "round", "--job", "e2e-job", "--round", "2");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("not finalized", unknown.Stdout, StringComparison.Ordinal);

        // An independent client: raw eth_getLogs over HTTP, decoded by hand.
        await AssertSingleEventAsync(rpcUrl, registry, "e2e-job", 1, resultHash, receiptsRoot, modelRef, transaction);

        var metrics = await cli.JsonAsync("vpod", "metrics", "--id", validators[0].Id);
        Assert.Equal(validators[0].Address, metrics.GetProperty("blockchain").GetProperty("address").GetString());
        Assert.True(metrics.GetProperty("blockchain").GetProperty("lastBlockSeen").GetInt64() >= 3);

        // A graceful restart: the silo stops its anvil, the chain's state survives, nothing is sent twice.
        var anvilPid = int.Parse(File.ReadAllText(Path.Combine(_dataDirectory, "chain", "anvil.pid")).Trim(), CultureInfo.InvariantCulture);
        await _silo.StopAsync();
        Assert.False(Directory.Exists($"/proc/{anvilPid}") && File.ReadAllText($"/proc/{anvilPid}/cmdline").Contains("anvil", StringComparison.Ordinal), "the silo left its anvil running");
        _silo = new SiloProcess(_dataDirectory);
        await _silo.StartAsync(TimeSpan.FromSeconds(90));
        cli = new CliRunner("--gateway", _silo.Gateway);
        var restarted = await cli.JsonAsync("chain", "status");
        Assert.Equal(registry, restarted.GetProperty("registry").GetString());
        var after = await cli.JsonAsync("chain", "round", "--job", "e2e-job", "--round", "1");
        Assert.Equal(transaction, after.GetProperty("transactionHash").GetString());
        Assert.Equal("AlreadyFinalized", (await cli.JsonAsync(finalize)).GetProperty("outcome").GetString());
        await AssertSingleEventAsync(restarted.GetProperty("rpcUrl").GetString()!, registry, "e2e-job", 1, resultHash, receiptsRoot, modelRef, transaction);
    }

    private static async Task AssertSingleEventAsync(string rpcUrl, string registry, string job, long round, string resultHash, string receiptsRoot, string modelRef, string transaction)
    {
        var topic0 = "0x" + Convert.ToHexStringLower(new Sha3Keccack().CalculateHash(Encoding.ASCII.GetBytes("RoundFinalized(bytes32,uint64,bytes32,bytes32,bytes32)")));
        var logs = await AnvilNode.RpcAsync(rpcUrl, "eth_getLogs", new { address = registry, fromBlock = "0x0", toBlock = "latest", topics = new[] { topic0 } });
        var log = Assert.Single(logs.EnumerateArray());
        var topics = log.GetProperty("topics").EnumerateArray().Select(t => t.GetString()!).ToArray();
        var jobBytes = Convert.FromHexString(topics[1][2..]);
        Assert.Equal(job, Encoding.UTF8.GetString(jobBytes).TrimEnd('\0'));
        Assert.Equal(round, Convert.ToInt64(topics[2], 16));
        var data = log.GetProperty("data").GetString()!;
        Assert.Equal(2 + (3 * 64), data.Length);
        Assert.Equal(resultHash[2..], data[2..66]);
        Assert.Equal(receiptsRoot[2..], data[66..130]);
        Assert.Equal(modelRef[2..], data[130..194]);
        Assert.Equal(transaction, log.GetProperty("transactionHash").GetString());

        var receipt = await AnvilNode.RpcAsync(rpcUrl, "eth_getTransactionReceipt", transaction);
        Assert.Equal("0x1", receipt.GetProperty("status").GetString());
        Assert.Equal(registry, receipt.GetProperty("to").GetString());
        Assert.Equal(JsonValueKind.String, receipt.GetProperty("gasUsed").ValueKind);
    }
}
