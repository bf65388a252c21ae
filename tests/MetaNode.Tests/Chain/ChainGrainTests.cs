using MetaNode.Chain;
using MetaNode.Grains.Chain;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;

namespace MetaNode.Tests.Chain;

/// <summary>The connector through grains on a real anvil: vPod keys, deploy, finalization once, rotation, the watcher's stream.</summary>
public sealed class ChainGrainTests(AnvilFixture anvil) : IClassFixture<AnvilFixture>
{
    [Fact]
    public async Task ComputeAndValidatorVPods_GetTheirOwnKeys_AndSign()
    {
        await using var chain = await ChainCluster.StartAsync(anvil.RpcUrl, await anvil.FundedKeyAsync());
        var (computeId, computeAddress) = await chain.CreateValidatorAsync("compute-a", VPodType.Compute);
        var (validatorId, validatorAddress) = await chain.CreateValidatorAsync("validator-a");
        var (_, storageAddress) = await chain.CreateValidatorAsync("storage-a", VPodType.Storage);
        Assert.True(HexValues.IsAddress(computeAddress));
        Assert.True(HexValues.IsAddress(validatorAddress));
        Assert.NotEqual(computeAddress, validatorAddress);
        Assert.Equal(string.Empty, storageAddress);

        // The key is kept encrypted: the data directory and the grain state never hold it in clear, and status repeats the address.
        Assert.Equal(validatorAddress, (await chain.Grains.GetGrain<IVPodGrain>(validatorId).GetStatusAsync()).Address);

        var message = "receipt job-1 round 1"u8.ToArray();
        var signed = await chain.Grains.GetGrain<IVPodGrain>(computeId).SignMessageAsync(message);
        Assert.Equal(computeAddress, new Nethereum.Signer.EthereumMessageSigner().EncodeUTF8AndEcRecover("receipt job-1 round 1", signed.Signature).ToLowerInvariant());

        // Only validator vPods sign registry digests.
        await Assert.ThrowsAsync<InvalidVPodOperationException>(() => chain.Grains.GetGrain<IVPodGrain>(computeId).SignRoundResultAsync(RegistryHarness.Round("job-1", 1)));

        var metrics = await chain.Grains.GetGrain<IVPodGrain>(validatorId).GetMetricsAsync();
        Assert.Equal(validatorAddress, metrics.Blockchain.Address);
    }

    [Fact]
    public async Task FinalizeRound_SubmitsOnce_AndRecognisesResubmissions()
    {
        await using var chain = await ChainCluster.StartAsync(anvil.RpcUrl, await anvil.FundedKeyAsync());
        for (var i = 0; i < 3; i++)
        {
            await chain.CreateValidatorAsync($"validator-{i}");
        }

        var status = await chain.Chain.DeployRegistryAsync(new DeployRegistryCommand { Threshold = 2 });
        Assert.True(status.Enabled);
        Assert.Equal(31337, status.ChainId);
        Assert.Equal(2, status.Threshold);
        Assert.Equal(3, status.Validators.Count);
        var registry = status.Registry!;

        var probe = chain.Grains.GetGrain<IChainEventProbeGrain>("probe-" + Guid.NewGuid().ToString("N")[..6]);
        await probe.SubscribeAsync(registry);

        var round = RegistryHarness.Round("job-grain", 1);
        var first = await chain.Chain.FinalizeRoundAsync(new FinalizeRoundCommand { Round = round });
        Assert.Equal(FinalizationOutcome.Finalized, first.Outcome);
        Assert.True(first.Record.Verified);
        Assert.Equal(round.ResultHash, first.Record.ResultHash);
        Assert.Equal(2, first.Signers.Count);
        Assert.InRange(first.GasUsed!.Value, 50_000, 76_000);

        // The same submission, then several at once: recognised, never sent again.
        var again = await chain.Chain.FinalizeRoundAsync(new FinalizeRoundCommand { Round = round });
        Assert.Equal(FinalizationOutcome.AlreadyFinalized, again.Outcome);
        Assert.Equal(first.TransactionHash, again.TransactionHash);
        Assert.True(again.Record.Matches);

        var account = chain.Grains.GetGrain<IChainAccountGrain>(chain.Operator);
        var direct = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => account.FinalizeRoundAsync(registry, round, [])));
        Assert.All(direct, r => Assert.Equal(FinalizationOutcome.AlreadyFinalized, r.Outcome));
        var usage = await account.GetUsageAsync();
        Assert.Equal(2, usage.TransactionsSubmitted); // the deployment and one finalization
        Assert.Equal(2, usage.TransactionsConfirmed);

        // A different result for a finalized round is reported as such (Matches = false), not sent.
        var conflicting = await chain.Chain.FinalizeRoundAsync(new FinalizeRoundCommand { Round = round with { ResultHash = "0x" + new string('e', 64) } });
        Assert.Equal(FinalizationOutcome.AlreadyFinalized, conflicting.Outcome);
        Assert.False(conflicting.Record.Matches);

        // Concurrent finalizations of new rounds through one account: distinct nonces, all confirmed.
        var rounds = Enumerable.Range(2, 4).Select(r => RegistryHarness.Round("job-grain", r)).ToArray();
        var results = await Task.WhenAll(rounds.Select(r => chain.Chain.FinalizeRoundAsync(new FinalizeRoundCommand { Round = r })));
        Assert.All(results, r => Assert.Equal(FinalizationOutcome.Finalized, r.Outcome));

        var events = await Eventually.WaitAsync(probe.GetEventsAsync, e => e.Count >= 5, "five RoundFinalized events on the stream");
        Assert.Equal(5, events.Count);
        Assert.Equal(5, events.Select(e => e.EventId).Distinct().Count());
        Assert.Equal(round.ResultHash, events.Single(e => e.Round == 1).ResultHash);

        // The watcher's checkpoint is persisted: after a reactivation it neither repeats nor misses events.
        var watcher = chain.Grains.GetGrain<IChainWatcherGrain>(ChainKeys.Default);
        var before = await watcher.PollAsync();
        await chain.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        await chain.Chain.FinalizeRoundAsync(new FinalizeRoundCommand { Round = RegistryHarness.Round("job-grain", 6) });
        var after = await watcher.PollAsync();
        Assert.True(after.Checkpoint > before.Checkpoint);
        Assert.Equal(before.EventsPublished + 1, after.EventsPublished);
    }

    [Fact]
    public async Task RotateValidators_ThroughVPods_OldValidatorsStopCounting()
    {
        await using var chain = await ChainCluster.StartAsync(anvil.RpcUrl, await anvil.FundedKeyAsync());
        var old = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            old.Add((await chain.CreateValidatorAsync($"old-{i}")).Address);
        }

        await chain.Chain.DeployRegistryAsync(new DeployRegistryCommand { Validators = old, Threshold = 2 });
        var fresh = new List<(string Id, string Address)>();
        for (var i = 0; i < 3; i++)
        {
            fresh.Add(await chain.CreateValidatorAsync($"new-{i}"));
        }

        var rotated = await chain.Chain.RotateValidatorsAsync(fresh.Select(f => f.Address).ToArray(), 2);
        Assert.Equal(2, rotated.SetId);
        Assert.Equal(RegistryClient.SortValidators(fresh.Select(f => f.Address)), rotated.Validators.Select(v => v.Address).ToArray());
        Assert.All(rotated.Validators, v => Assert.NotNull(v.VPodId));

        // The new set finalizes; the old validators' signatures are refused (named explicitly).
        var round = RegistryHarness.Round("job-rotated", 1);
        var outsiders = (await chain.Grains.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default).ListAsync()).Where(s => s.Name.StartsWith("old-", StringComparison.Ordinal)).Select(s => s.Id).ToArray();
        await Assert.ThrowsAsync<InvalidChainRequestException>(() => chain.Chain.FinalizeRoundAsync(new FinalizeRoundCommand { Round = round, SignerVPodIds = outsiders }));
        Assert.Equal(FinalizationOutcome.Finalized, (await chain.Chain.FinalizeRoundAsync(new FinalizeRoundCommand { Round = round })).Outcome);
    }

    [Fact]
    public async Task ChainStatus_IsOffWithAReason_WhenNoChainIsConfigured()
    {
        await using var chain = await ChainCluster.StartAsync(anvil.RpcUrl, await anvil.FundedKeyAsync(), new Dictionary<string, string?> { ["MetaNode:Chain:RpcUrl"] = string.Empty, ["MetaNode:Chain:AccountPrivateKey"] = string.Empty });
        var status = await chain.Chain.GetStatusAsync();
        Assert.False(status.Enabled);
        Assert.Contains("MetaNode:Chain:RpcUrl", status.Reason, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ChainUnavailableException>(() => chain.Chain.GetRoundAsync("job", 1));

        // vPods still get keys without a chain.
        var (_, address) = await chain.CreateValidatorAsync("offline-validator");
        Assert.True(HexValues.IsAddress(address));
    }
}
