using MetaNode.Chain;
using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Chain;

/// <summary>
/// The account grain with <c>MetaNode:Chain:Confirmations</c> = 3 on an anvil that mines only when told: a finalization
/// is reported once three blocks (its own included) are on the chain, and what it records is the inclusion block.
/// </summary>
public sealed class ChainConfirmationTests
{
    private const System.Text.Json.JsonValueKind JsonNull = System.Text.Json.JsonValueKind.Null;

    [Fact]
    public async Task WithThreeConfirmations_AFinalizationIsReportedOnlyWhenThreeBlocksDeep_WithItsInclusionBlock()
    {
        await using var anvil = await ReorgChain.StartAsync();
        await using var chain = await ChainCluster.StartAsync(anvil.RpcUrl, await ReorgChain.FundedKeyAsync(anvil.RpcUrl), anvil.ClusterSettings(confirmations: 3));
        var account = chain.Grains.GetGrain<IChainAccountGrain>(chain.Operator);
        await AnvilNode.RpcAsync(anvil.RpcUrl, "evm_setAutomine", false);

        var round = RegistryHarness.Round("job-confirm", 1);
        var submission = account.FinalizeRoundAsync(anvil.Registry, round, anvil.Sign(round));
        await WaitInPoolAsync(anvil, chain.Operator, submission);
        var inclusion = await anvil.HeadAsync() + 1;

        // One block, then two: each time the grain has seen the new head with the receipt, and still reports nothing.
        for (var depth = 1; depth < 3; depth++)
        {
            await anvil.MineAsync();
            var usage = await Eventually.WaitAsync(() => account.GetUsageAsync(), u => u.LastBlockSeen >= inclusion + depth - 1, $"the account grain to see the receipt {depth} block(s) deep");
            Assert.False(submission.IsCompleted, $"reported at {depth} confirmation(s)");
            Assert.Equal((1L, 0L), (usage.TransactionsSubmitted, usage.TransactionsConfirmed));
        }

        var transactions = await anvil.BlockTransactionsAsync(inclusion);
        var transaction = Assert.Single(transactions);
        await anvil.MineAsync();
        var result = await submission.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(FinalizationOutcome.Finalized, result.Outcome);
        Assert.Equal(transaction, result.TransactionHash);
        Assert.Equal((inclusion, transaction), (result.Record.BlockNumber, result.Record.TransactionHash));
        Assert.True(result.Record.Verified);
        Assert.Equal(round.ResultHash, result.Record.ResultHash);
        var receipt = await AnvilNode.RpcAsync(anvil.RpcUrl, "eth_getTransactionReceipt", transaction);
        Assert.Equal(await anvil.BlockHashAsync(inclusion), receipt.GetProperty("blockHash").GetString());
        Assert.Equal(inclusion + 2, await anvil.HeadAsync());
        var final = await account.GetUsageAsync();
        Assert.Equal((1L, 1L), (final.TransactionsSubmitted, final.TransactionsConfirmed));
    }

    [Fact]
    public async Task ATransactionDroppedByAReorgWithinTheDepth_IsSentAgain_AndReportedFromItsNewBlock()
    {
        await using var anvil = await ReorgChain.StartAsync();
        await using var chain = await ChainCluster.StartAsync(anvil.RpcUrl, await ReorgChain.FundedKeyAsync(anvil.RpcUrl), anvil.ClusterSettings(confirmations: 3));
        var account = chain.Grains.GetGrain<IChainAccountGrain>(chain.Operator);
        await AnvilNode.RpcAsync(anvil.RpcUrl, "evm_setAutomine", false);

        var (submission, transaction, dropped) = await SubmitTwoBlocksDeepAsync(anvil, account, chain.Operator, "job-dropped");

        // Both blocks replaced by empty ones: the transaction is no longer on the chain (anvil does not return it to its pool).
        await anvil.ReorgAsync(2);
        Assert.Empty(await anvil.BlockTransactionsAsync(dropped));
        Assert.Equal(JsonNull, (await AnvilNode.RpcAsync(anvil.RpcUrl, "eth_getTransactionReceipt", transaction)).ValueKind);

        // The grain sends the same signed bytes again; mined and three blocks deep, it reports the new block.
        var (result, inclusion) = await SentAgainAndFinalizedAsync(anvil, account, chain.Operator, submission, transaction);
        Assert.Equal((inclusion, transaction), (result.Record.BlockNumber, result.Record.TransactionHash));
        Assert.True(result.Record.Verified);
        var logs = await anvil.LogsAsync();
        Assert.Equal([(1L, inclusion)], logs.Select(l => (l.Round, l.Block)));
    }

    [Fact]
    public async Task ANodeAnsweringOnceFromTheChainItLeft_DoesNotMakeTheAccountGiveItsNonceUp_TheSameBytesAreSentAgain()
    {
        await using var anvil = await ReorgChain.StartAsync();
        await using var gate = await RpcSendGate.StartAsync(anvil.RpcUrl);
        await using var chain = await ChainCluster.StartAsync(gate.Url, await ReorgChain.FundedKeyAsync(anvil.RpcUrl), anvil.ClusterSettings(confirmations: 3));
        var account = chain.Grains.GetGrain<IChainAccountGrain>(chain.Operator);
        await AnvilNode.RpcAsync(anvil.RpcUrl, "evm_setAutomine", false);

        var (submission, transaction, _) = await SubmitTwoBlocksDeepAsync(anvil, account, chain.Operator, "job-stale-nonce");

        // The first reading of the mined nonce after the reorganization comes from the chain the node left (1: ours mined);
        // the node itself says 0. One reading alone would give the nonce up and prepare another transaction.
        gate.StaleMinedNonces.Enqueue(1);
        await anvil.ReorgAsync(2);
        await SentAgainAndFinalizedAsync(anvil, account, chain.Operator, submission, transaction);
        Assert.Equal(1, gate.StaleAnswersGiven);
        Assert.Single(gate.Forwarded.Distinct());
    }

    /// <summary>
    /// Round 1 of <paramref name="jobId"/> finalized through the account, its transaction mined in the next block and one more
    /// block on top, seen by the grain (which now waits for the third).
    /// </summary>
    private static async Task<(Task<FinalizationResult> Submission, string Transaction, long Block)> SubmitTwoBlocksDeepAsync(ReorgChain anvil, IChainAccountGrain account, string address, string jobId)
    {
        var round = RegistryHarness.Round(jobId, 1);
        var submission = account.FinalizeRoundAsync(anvil.Registry, round, anvil.Sign(round));
        await WaitInPoolAsync(anvil, address, submission);
        var block = await anvil.HeadAsync() + 1;
        await anvil.MineAsync(2);
        var transaction = Assert.Single(await anvil.BlockTransactionsAsync(block));
        await Eventually.WaitAsync(() => account.GetUsageAsync(), u => u.LastBlockSeen >= block + 1, "the account grain to see the receipt two blocks deep");
        return (submission, transaction, block);
    }

    /// <summary>
    /// After a reorganization dropped <paramref name="transaction"/>: the grain sends it again, the very same bytes, and once it is
    /// three blocks deep in its new block reports it finalized; one transaction submitted, one confirmed.
    /// </summary>
    private static async Task<(FinalizationResult Result, long Inclusion)> SentAgainAndFinalizedAsync(ReorgChain anvil, IChainAccountGrain account, string address, Task<FinalizationResult> submission, string transaction)
    {
        await WaitInPoolAsync(anvil, address, submission);
        var inclusion = await anvil.HeadAsync() + 1;
        await anvil.MineAsync(3);
        var result = await submission.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(FinalizationOutcome.Finalized, result.Outcome);
        Assert.Equal(transaction, result.TransactionHash);
        Assert.Equal([transaction], await anvil.BlockTransactionsAsync(inclusion));
        var usage = await account.GetUsageAsync();
        Assert.Equal((1L, 1L), (usage.TransactionsSubmitted, usage.TransactionsConfirmed));
        return (result, inclusion);
    }

    /// <summary>Until the account's transaction waits in anvil's pool (its pending nonce is past its mined one).</summary>
    private static Task WaitInPoolAsync(ReorgChain anvil, string account, Task submission) =>
        Eventually.WaitAsync(
            async () => submission.IsCompleted || await NonceAsync(anvil.RpcUrl, account, "pending") > await NonceAsync(anvil.RpcUrl, account, "latest"),
            waiting => waiting,
            "the finalization transaction in anvil's pool");

    private static async Task<long> NonceAsync(string rpcUrl, string address, string block) =>
        Convert.ToInt64((await AnvilNode.RpcAsync(rpcUrl, "eth_getTransactionCount", address, block)).GetString(), 16);
}
