using MetaNode.Chain;
using MetaNode.Grains.Chain;
using MetaNode.Tests.Infrastructure;
using Nethereum.Signer;

namespace MetaNode.Tests.Chain;

/// <summary>The node dies under a submission and comes back with its saved state: nothing is lost or sent twice.</summary>
public sealed class ChainFaultTests
{
    [Fact]
    public async Task KillingAnvilMidSubmission_NoFinalizationIsLostOrDuplicated()
    {
        var directory = Path.Combine(Path.GetTempPath(), "metanode-chain-fault", Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(directory);

        // One block a second, so the transaction waits in anvil's pool when anvil is killed.
        var stateFile = Path.Combine(directory, "anvil-state.json");
        await using var node = new AnvilNode(stateFile, stateIntervalSeconds: 1, "--block-time", "1");
        await node.StartAsync();
        var operatorKey = EthECKey.GenerateKey();
        await AnvilNode.RpcAsync(node.RpcUrl, "anvil_setBalance", operatorKey.GetPublicAddress(), "0x3635C9ADC5DEA00000");
        await using var chain = await ChainCluster.StartAsync(node.RpcUrl, operatorKey);
        var keys = ChainCluster.TestKeys(3);
        var registry = await chain.DeployTestRegistryAsync(keys, 2);
        var first = RegistryHarness.Round("job-fault", 1);
        Assert.Equal(FinalizationOutcome.Finalized, (await chain.FinalizeWithKeysAsync(registry, first, keys.Take(2))).Outcome);

        // Two state dumps begun after round 1 was confirmed: the second surely holds it.
        var confirmedAt = DateTime.UtcNow;
        var firstDump = await Eventually.WaitAsync(() => Task.FromResult(File.GetLastWriteTimeUtc(stateFile)), t => t > confirmedAt, "a state dump after round 1");
        await Eventually.WaitAsync(() => Task.FromResult(File.GetLastWriteTimeUtc(stateFile)), t => t > firstDump, "a second state dump after round 1");

        var second = RegistryHarness.Round("job-fault", 2);
        var submission = chain.FinalizeWithKeysAsync(registry, second, keys.Take(2));
        await Eventually.WaitAsync(
            async () => await NonceAsync(node.RpcUrl, chain.Operator, "pending") > await NonceAsync(node.RpcUrl, chain.Operator, "latest") || submission.IsCompleted,
            sent => sent,
            "the finalization transaction to reach anvil's pool");

        await node.KillAsync();
        await node.StartAsync();

        var result = await submission.WaitAsync(TimeSpan.FromSeconds(90));
        Assert.True(result.Outcome is FinalizationOutcome.Finalized or FinalizationOutcome.AlreadyFinalized, result.Outcome.ToString());
        Assert.True(result.Record.Verified);
        Assert.Equal(second.ResultHash, result.Record.ResultHash);

        // Exactly one RoundFinalized per round on the restarted chain, read with raw JSON-RPC.
        var logs = await AnvilNode.RpcAsync(node.RpcUrl, "eth_getLogs", new { address = registry, fromBlock = "0x0", toBlock = "latest", topics = new[] { RegistryClient.RoundFinalizedTopic } });
        var rounds = logs.EnumerateArray().Select(l => Convert.ToInt64(l.GetProperty("topics")[2].GetString(), 16)).Order().ToArray();
        Assert.Equal([1L, 2L], rounds);

        Assert.Equal(FinalizationOutcome.AlreadyFinalized, (await chain.FinalizeWithKeysAsync(registry, second, keys.Take(2))).Outcome);
        Assert.Equal(FinalizationOutcome.AlreadyFinalized, (await chain.FinalizeWithKeysAsync(registry, first, keys.Take(2))).Outcome);
        var third = await chain.FinalizeWithKeysAsync(registry, RegistryHarness.Round("job-fault", 3), keys.Take(2));
        Assert.Equal(FinalizationOutcome.Finalized, third.Outcome);

        // Deployment and three rounds: four transactions, each sent (or re-broadcast unchanged) and confirmed once.
        var usage = await chain.Grains.GetGrain<IChainAccountGrain>(chain.Operator).GetUsageAsync();
        Assert.Equal(4, usage.TransactionsConfirmed);
        Assert.Equal(4, usage.TransactionsSubmitted);
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task AStuckTransaction_IsReplacedWithHigherFees_AndConfirmedOnce()
    {
        await using var node = new AnvilNode();
        await node.StartAsync();
        var operatorKey = EthECKey.GenerateKey();
        await AnvilNode.RpcAsync(node.RpcUrl, "anvil_setBalance", operatorKey.GetPublicAddress(), "0x3635C9ADC5DEA00000");
        await using var chain = await ChainCluster.StartAsync(node.RpcUrl, operatorKey, new Dictionary<string, string?> { ["MetaNode:Chain:ReplaceAfter"] = "00:00:00.500" });
        var keys = ChainCluster.TestKeys(2);
        var registry = await chain.DeployTestRegistryAsync(keys, 2);

        // Nothing gets mined: the transaction is stuck in the pool until the account grain has replaced it.
        await AnvilNode.RpcAsync(node.RpcUrl, "evm_setAutomine", false);
        var account = chain.Grains.GetGrain<IChainAccountGrain>(chain.Operator);
        var submission = chain.FinalizeWithKeysAsync(registry, RegistryHarness.Round("job-stuck", 1), keys);
        await Eventually.WaitAsync(() => account.GetUsageAsync(), u => u.TransactionsSubmitted >= 3, "a replacement transaction (deploy + original + replacement)", TimeSpan.FromSeconds(30));
        await AnvilNode.RpcAsync(node.RpcUrl, "evm_setAutomine", true);
        await AnvilNode.RpcAsync(node.RpcUrl, "evm_mine");

        var result = await submission.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(FinalizationOutcome.Finalized, result.Outcome);
        var usage = await account.GetUsageAsync();
        Assert.Equal(2, usage.TransactionsConfirmed);
        Assert.True(usage.TransactionsSubmitted >= 3, $"submitted {usage.TransactionsSubmitted}");

        // One nonce, one mined version: a single event.
        var logs = await AnvilNode.RpcAsync(node.RpcUrl, "eth_getLogs", new { address = registry, fromBlock = "0x0", toBlock = "latest", topics = new[] { RegistryClient.RoundFinalizedTopic } });
        Assert.Single(logs.EnumerateArray());
    }

    private static async Task<long> NonceAsync(string rpcUrl, string address, string block)
    {
        var result = await AnvilNode.RpcAsync(rpcUrl, "eth_getTransactionCount", address, block);
        return Convert.ToInt64(result.GetString(), 16);
    }
}
