using System.Text.Json;
using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Integration;

/// <summary>
/// As a user runs it: a real embedded silo (which starts its own anvil), the CLI, validator vPods whose workloads prove the
/// keys they hold, refusals of what no validator signed, and the keys surviving a silo restart.
/// </summary>
public sealed class ChainEndToEndTests : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-e2e-chain", Guid.NewGuid().ToString("N")[..10]);
    private SiloProcess _silo = null!;

    public Task InitializeAsync()
    {
        _silo = new SiloProcess(_dataDirectory, "--MetaNode:Capacity:Cpu=64");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _silo.DisposeAsync();
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
    public async Task EmbeddedSilo_DeploysWorkloadProvenValidators_RefusesUnsignedResults_AndKeepsKeysAcrossARestart()
    {
        await _silo.StartAsync(TimeSpan.FromSeconds(90));
        var cli = _silo.Cli();

        var initial = await cli.JsonAsync("chain", "status");
        Assert.True(initial.GetProperty("enabled").GetBoolean(), initial.ToString());
        Assert.Equal(31337, initial.GetProperty("chainId").GetInt64());
        var rpcUrl = initial.GetProperty("rpcUrl").GetString()!;
        Assert.StartsWith("http://127.0.0.1:", rpcUrl, StringComparison.Ordinal);

        // Validator vPods running the reference workload: each creates its key inside its vPod and proves it.
        var validators = new List<(string Id, string Address)>();
        for (var i = 1; i <= 3; i++)
        {
            var id = (await cli.JsonAsync("vpod", "create", "--name", $"e2e-validator-{i}", "--type", "validator", "--cpu", "1", "--memory", "200Mi")).GetProperty("id").GetString()!;
            var status = await Eventually.WaitAsync(() => cli.JsonAsync("vpod", "status", "--id", id), s => s.GetProperty("identity").GetString() == "Proven", $"vPod {id} to prove its key", TimeSpan.FromSeconds(60));
            var address = status.GetProperty("address").GetString()!;
            Assert.Matches("^0x[0-9a-f]{40}$", address);
            validators.Add((id, address));
        }

        // A validator vPod that speaks no protocol runs, but chain deploy refuses it by name.
        var silent = (await cli.JsonAsync("vpod", "create", "--name", "e2e-silent", "--type", "validator", "--cpu", "100m", "--memory", "64Mi", "--command", "sleep 600")).GetProperty("id").GetString()!;
        var refusedDeploy = await cli.RunAsync("chain", "deploy", "--threshold", "2");
        Assert.NotEqual(0, refusedDeploy.ExitCode);
        Assert.Contains(silent, refusedDeploy.Stderr, StringComparison.Ordinal);
        await cli.RunAsync("vpod", "delete", "--id", silent);

        var deployed = await cli.JsonAsync("chain", "deploy", "--threshold", "2");
        var registry = deployed.GetProperty("registry").GetString()!;
        Assert.NotEqual(initial.GetProperty("registry").GetString(), registry);
        Assert.Equal(2, deployed.GetProperty("threshold").GetInt32());
        Assert.Equal(validators.Select(v => v.Address).Order(StringComparer.Ordinal), deployed.GetProperty("validators").EnumerateArray().Select(v => v.GetString()!).Order(StringComparer.Ordinal));
        var set = await cli.JsonAsync("chain", "validators");
        Assert.Equal(validators.Select(v => v.Id).Order(StringComparer.Ordinal), set.GetProperty("validators").EnumerateArray().Select(v => v.GetProperty("vPodId").GetString()!).Order(StringComparer.Ordinal));

        // Hashes no validator computed: refused (exit 1), nothing sent, nothing on chain.
        string[] finalize = ["chain", "finalize", "--job", "forged", "--round", "1", "--result-hash", "0x" + new string('1', 64), "--receipts-root", "0x" + new string('2', 64), "--model-ref", "0x" + new string('3', 64)];
        var nonce = await NonceAsync(rpcUrl, initial.GetProperty("operator").GetString()!);
        var refused = await cli.RunAsync(finalize);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("no validator signed this result", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(nonce, await NonceAsync(rpcUrl, initial.GetProperty("operator").GetString()!));
        var round = await cli.RunAsync("chain", "round", "--job", "forged", "--round", "1");
        Assert.Equal(1, round.ExitCode);
        Assert.Contains("not finalized", round.Stdout, StringComparison.Ordinal);

        var metrics = await cli.JsonAsync("vpod", "metrics", "--id", validators[0].Id);
        Assert.Equal(validators[0].Address, metrics.GetProperty("blockchain").GetProperty("address").GetString());

        // A graceful restart: the workloads come back with the keys in their own directories, so the same addresses.
        await _silo.StopAsync();
        _silo = new SiloProcess(_dataDirectory, "--MetaNode:Capacity:Cpu=64");
        await _silo.StartAsync(TimeSpan.FromSeconds(90));
        cli = _silo.Cli();
        Assert.Equal(registry, (await cli.JsonAsync("chain", "status")).GetProperty("registry").GetString());
        foreach (var (id, address) in validators)
        {
            var status = await Eventually.WaitAsync(() => cli.JsonAsync("vpod", "status", "--id", id), s => s.GetProperty("provedAt").ValueKind == JsonValueKind.String && s.GetProperty("phase").GetString() == "Running" && s.GetProperty("identity").GetString() == "Proven", $"vPod {id} to prove its key after the restart", TimeSpan.FromSeconds(60));
            Assert.Equal(address, status.GetProperty("address").GetString());
            Assert.Equal(address, status.GetProperty("provedAddress").GetString());
        }
    }

    private static async Task<long> NonceAsync(string rpcUrl, string address) =>
        Convert.ToInt64((await AnvilNode.RpcAsync(rpcUrl, "eth_getTransactionCount", address, "latest")).GetString(), 16);
}
