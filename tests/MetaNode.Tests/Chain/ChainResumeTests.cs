using MetaNode.Chain;
using MetaNode.Grains.Chain;
using MetaNode.Tests.Infrastructure;
using Nethereum.Hex.HexConvertors.Extensions;

namespace MetaNode.Tests.Chain;

/// <summary>A transaction the account grain saved but could not send survives its deactivation: it is resumed once, never signed or sent again as another.</summary>
public sealed class ChainResumeTests
{
    [Fact]
    public async Task ATransactionSavedButNotSent_IsResumedAfterDeactivation_AndMinedOnce()
    {
        await using var anvil = await ReorgChain.StartAsync();
        await using var gate = await RpcSendGate.StartAsync(anvil.RpcUrl);
        await using var chain = await ChainCluster.StartAsync(gate.Url, await ReorgChain.FundedKeyAsync(anvil.RpcUrl), anvil.ClusterSettings(confirmations: 1));
        var account = chain.Grains.GetGrain<IChainAccountGrain>(chain.Operator);
        var round = RegistryHarness.Round("job-resume", 1);
        var signatures = anvil.Sign(round);

        // The send never reaches the node: the call fails after the signed transaction was saved.
        gate.RefuseSends = true;
        await Assert.ThrowsAnyAsync<Exception>(() => account.FinalizeRoundAsync(anvil.Registry, round, signatures));
        var saved = Assert.Single(gate.Refused);
        var usage = await account.GetUsageAsync();
        Assert.Equal((1L, 0L), (usage.TransactionsSubmitted, usage.TransactionsConfirmed));
        Assert.Equal(0L, await NonceAsync(anvil.RpcUrl, chain.Operator, "pending"));
        Assert.Empty(await anvil.LogsAsync());

        var management = chain.Grains.GetGrain<IManagementGrain>(0);
        async Task<int> AccountActivationsAsync() =>
            (await management.GetSimpleGrainStatistics()).Where(s => s.GrainType.Contains(nameof(ChainAccountGrain), StringComparison.Ordinal)).Sum(s => s.ActivationCount);
        Assert.Equal(1, await AccountActivationsAsync());
        await management.ForceActivationCollection(TimeSpan.Zero);
        await Eventually.WaitAsync(AccountActivationsAsync, count => count == 0, "the account grain to be deactivated");

        // Two calls for the same round on a fresh activation: the saved transaction is resumed (not signed anew), mined once.
        gate.RefuseSends = false;
        var results = await Task.WhenAll(
            account.FinalizeRoundAsync(anvil.Registry, round, signatures),
            account.FinalizeRoundAsync(anvil.Registry, round, signatures));
        var hash = HexValues.ToHex(RegistryTypedData.Keccak(saved.HexToByteArray()));
        Assert.Equal([FinalizationOutcome.Finalized, FinalizationOutcome.AlreadyFinalized], results.Select(r => r.Outcome).Order());
        Assert.All(results, r => Assert.Equal(hash, r.TransactionHash, ignoreCase: true));
        Assert.NotEmpty(gate.Forwarded);
        Assert.All(gate.Forwarded, raw => Assert.Equal(saved, raw));
        Assert.Equal(1L, await NonceAsync(anvil.RpcUrl, chain.Operator, "latest"));
        var log = Assert.Single(await anvil.LogsAsync());
        Assert.StartsWith(hash + ":", log.EventId, StringComparison.OrdinalIgnoreCase);
        usage = await account.GetUsageAsync();
        Assert.Equal((1L, 1L), (usage.TransactionsSubmitted, usage.TransactionsConfirmed));
    }

    private static async Task<long> NonceAsync(string rpcUrl, string address, string block) =>
        Convert.ToInt64((await AnvilNode.RpcAsync(rpcUrl, "eth_getTransactionCount", address, block)).GetString(), 16);
}
