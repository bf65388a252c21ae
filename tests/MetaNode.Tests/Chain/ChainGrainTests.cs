using MetaNode.Chain;
using MetaNode.Grains.Chain;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;

namespace MetaNode.Tests.Chain;

/// <summary>The connector through grains on a real anvil: keys proved by workloads, deploy, refusals, finalization once, rotation.</summary>
public sealed class ChainGrainTests(AnvilFixture anvil) : IClassFixture<AnvilFixture>
{
    [Fact]
    public async Task ComputeAndValidatorVPods_ProveKeysTheirWorkloadsHold_AndASilentWorkloadIsRefused()
    {
        await using var chain = await ChainCluster.StartAsync(anvil.RpcUrl, await anvil.FundedKeyAsync());
        var (computeId, computeAddress) = await chain.CreateValidatorAsync("compute-a", VPodType.Compute);
        var (validatorId, validatorAddress) = await chain.CreateValidatorAsync("validator-a");
        Assert.True(HexValues.IsAddress(computeAddress));
        Assert.True(HexValues.IsAddress(validatorAddress));
        Assert.NotEqual(computeAddress, validatorAddress);

        // A fresh challenge proves the same key again (a new nonce each time); status shows the address as the workload proved it.
        var again = await chain.Grains.GetGrain<IVPodGrain>(validatorId).VerifyIdentityAsync();
        Assert.Equal((VPodIdentityState.Proven, validatorAddress, validatorAddress), (again.Identity, again.Address, again.ProvedAddress));
        var metrics = await chain.Grains.GetGrain<IVPodGrain>(validatorId).GetMetricsAsync();
        Assert.Equal(validatorAddress, metrics.Blockchain.Address);

        // A workload that speaks no protocol runs, but proves nothing: refused by name, and chain deploy refuses it too.
        var silent = await chain.CreateSilentValidatorAsync("validator-silent");
        var refused = await Assert.ThrowsAsync<VPodIdentityException>(() => chain.Grains.GetGrain<IVPodGrain>(silent).VerifyIdentityAsync());
        Assert.Contains(silent, refused.Message, StringComparison.Ordinal);
        Assert.Equal(VPodIdentityState.Unproven, (await chain.Grains.GetGrain<IVPodGrain>(silent).GetStatusAsync()).Identity);
        var deploy = await Assert.ThrowsAsync<InvalidChainRequestException>(() => chain.Chain.DeployRegistryAsync(new DeployRegistryCommand { Threshold = 1 }));
        Assert.Contains(silent, deploy.Message, StringComparison.Ordinal);
        Assert.Null(await chain.Chain.GetRegistryAsync());

        // Deploying the provable validators alone works; the registry's set is their proved addresses.
        var status = await chain.Chain.DeployRegistryAsync(new DeployRegistryCommand { Validators = [validatorId], Threshold = 1 });
        Assert.Equal([validatorAddress], status.Validators);
        await Assert.ThrowsAsync<InvalidChainRequestException>(() => chain.Chain.DeployRegistryAsync(new DeployRegistryCommand { Validators = [computeId], Threshold = 1 }));
    }

    [Fact]
    public async Task AVPodWhoseKeyChanged_IsShownChangedAndKeptOutOfValidatorSets_UntilAnOperatorAdmitsTheProvedAddress()
    {
        await using var chain = await ChainCluster.StartAsync(anvil.RpcUrl, await anvil.FundedKeyAsync());
        var (id, admitted) = await chain.CreateValidatorAsync("validator-rekeyed");
        var vpod = chain.Grains.GetGrain<IVPodGrain>(id);

        // The key is lost from the vPod's own directory (a wiped volume): the restarted workload makes a new one.
        var keyFile = Path.Combine(MetaNode.Grains.Runtime.Process.ProcessRuntimeRoot.DefaultFor(chain.DataDirectory), "vpods", id, "key", MetaNode.Workloads.WorkloadProtocol.KeyFileName);
        Assert.True(File.Exists(keyFile), keyFile);
        File.Delete(keyFile);
        await vpod.RestartAsync();
        var changed = await Eventually.WaitAsync(() => vpod.GetStatusAsync(), s => s.Identity == VPodIdentityState.Changed, "the restarted workload to prove a new key", TimeSpan.FromSeconds(60));
        Assert.Equal(admitted, changed.Address);
        Assert.NotEqual(admitted, changed.ProvedAddress);

        var refused = await Assert.ThrowsAsync<InvalidChainRequestException>(() => chain.Chain.DeployRegistryAsync(new DeployRegistryCommand { Validators = [id], Threshold = 1 }));
        Assert.Contains(id, refused.Message, StringComparison.Ordinal);
        Assert.Contains(changed.ProvedAddress!, refused.Message, StringComparison.Ordinal);

        // Only the address the workload proved can be admitted.
        await Assert.ThrowsAsync<VPodIdentityException>(() => vpod.AdmitAddressAsync("0x" + new string('9', 40)));
        var readmitted = await vpod.AdmitAddressAsync(changed.ProvedAddress!);
        Assert.Equal((VPodIdentityState.Proven, changed.ProvedAddress), (readmitted.Identity, readmitted.Address));
        Assert.Equal([changed.ProvedAddress!], (await chain.Chain.DeployRegistryAsync(new DeployRegistryCommand { Validators = [id], Threshold = 1 })).Validators);
    }

    [Fact]
    public async Task FinalizeRound_RefusesAResultNoValidatorSigned_AndSendsNothing()
    {
        await using var chain = await ChainCluster.StartAsync(anvil.RpcUrl, await anvil.FundedKeyAsync());
        for (var i = 0; i < 2; i++)
        {
            await chain.CreateValidatorAsync($"validator-{i}");
        }

        var registry = (await chain.Chain.DeployRegistryAsync(new DeployRegistryCommand { Threshold = 2 })).Registry!;
        var account = chain.Grains.GetGrain<IChainAccountGrain>(chain.Operator);
        var before = await account.GetUsageAsync();

        var forged = RegistryHarness.Round("forged", 1);
        var refused = await Assert.ThrowsAsync<UnsignedRoundException>(() => chain.Chain.FinalizeRoundAsync(new FinalizeRoundCommand { Round = forged }));
        Assert.Contains("no validator signed this result", refused.Message, StringComparison.Ordinal);

        Assert.Equal(before.TransactionsSubmitted, (await account.GetUsageAsync()).TransactionsSubmitted);
        Assert.False((await chain.Chain.GetRoundAsync("forged", 1)).Finalized);
        Assert.Equal(registry, await chain.Chain.GetRegistryAsync());
    }

    [Fact]
    public async Task FinalizeRound_SubmitsOnce_AndRecognisesResubmissions_ThroughTheAccountGrain()
    {
        await using var chain = await ChainCluster.StartAsync(anvil.RpcUrl, await anvil.FundedKeyAsync());
        var keys = ChainCluster.TestKeys(3);
        var registry = await chain.DeployTestRegistryAsync(keys, 2);

        var round = RegistryHarness.Round("job-grain", 1);
        var first = await chain.FinalizeWithKeysAsync(registry, round, keys.Take(2));
        Assert.Equal(FinalizationOutcome.Finalized, first.Outcome);
        Assert.True(first.Record.Verified);
        Assert.Equal(round.ResultHash, first.Record.ResultHash);
        Assert.Equal(2, first.Signers.Count);
        Assert.InRange(first.GasUsed!.Value, 50_000, 76_000);

        // The same submission, several at once: recognised, never sent again.
        var direct = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => chain.FinalizeWithKeysAsync(registry, round, keys.Take(2))));
        Assert.All(direct, r => Assert.Equal(FinalizationOutcome.AlreadyFinalized, r.Outcome));
        Assert.All(direct, r => Assert.Equal(first.TransactionHash, r.TransactionHash));
        var usage = await chain.Grains.GetGrain<IChainAccountGrain>(chain.Operator).GetUsageAsync();
        Assert.Equal(2, usage.TransactionsSubmitted); // the deployment and one finalization
        Assert.Equal(2, usage.TransactionsConfirmed);

        // Concurrent finalizations of new rounds through one account: distinct nonces, all confirmed.
        var rounds = Enumerable.Range(2, 4).Select(r => RegistryHarness.Round("job-grain", r)).ToArray();
        var results = await Task.WhenAll(rounds.Select(r => chain.FinalizeWithKeysAsync(registry, r, keys.Skip(1))));
        Assert.All(results, r => Assert.Equal(FinalizationOutcome.Finalized, r.Outcome));
    }

    [Fact]
    public async Task FinalizeRound_RecordsTheModelsCid_AndTheWatcherPublishesIt()
    {
        // The cluster's registry (configured, so the watcher follows it), whose validator keys the test holds.
        var harness = await RegistryHarness.DeployAsync(anvil, validators: 3, threshold: 2);
        await using var chain = await ChainCluster.StartAsync(anvil.RpcUrl, await anvil.FundedKeyAsync(), new Dictionary<string, string?> { ["MetaNode:Chain:RegistryAddress"] = harness.Address });
        var (keys, registry) = (harness.Validators, harness.Address);
        Assert.Equal(registry, await chain.Chain.GetRegistryAsync());
        var probe = chain.Grains.GetGrain<IChainEventProbeGrain>("cid-" + Guid.NewGuid().ToString("N")[..6]);
        await probe.SubscribeAsync(registry);
        var account = chain.Grains.GetGrain<IChainAccountGrain>(chain.Operator);

        // A model of one chunk has a raw CID (its digest is the model ref); a larger one a dag-pb root.
        var small = Enumerable.Range(0, 5_000).Select(i => (byte)i).ToArray();
        var large = Enumerable.Range(0, MetaNode.Storage.UnixFsFile.ChunkSize + 1_000).Select(i => (byte)(i * 7)).ToArray();
        var rounds = new[] { (Round: 1L, Model: small), (Round: 2L, Model: large) }.Select(r => RegistryHarness.Round("job-cid", r.Round) with
        {
            ModelRef = HexValues.ToHex(System.Security.Cryptography.SHA256.HashData(r.Model)),
            ModelCid = MetaNode.Storage.UnixFsFile.ComputeCid(r.Model).ToString(),
        }).ToArray();
        Assert.StartsWith("bafkrei", rounds[0].ModelCid, StringComparison.Ordinal);
        Assert.StartsWith("bafybei", rounds[1].ModelCid, StringComparison.Ordinal);

        // A raw CID of other bytes is refused before anything is sent; so is text that is no CID.
        var before = await account.GetUsageAsync();
        var wrong = rounds[0] with { Round = 3, ModelCid = MetaNode.Storage.UnixFsFile.ComputeCid("other bytes"u8).ToString() };
        Assert.Contains("is not the model ref", (await Assert.ThrowsAsync<InvalidChainRequestException>(() => chain.FinalizeWithKeysAsync(registry, wrong, keys.Take(2)))).Message, StringComparison.Ordinal);
        Assert.Contains("not a CIDv1", (await Assert.ThrowsAsync<InvalidChainRequestException>(() => chain.FinalizeWithKeysAsync(registry, wrong with { ModelCid = "Qm-not-a-cid" }, keys.Take(2)))).Message, StringComparison.Ordinal);
        Assert.Equal(before.TransactionsSubmitted, (await account.GetUsageAsync()).TransactionsSubmitted);

        foreach (var round in rounds)
        {
            var result = await chain.FinalizeWithKeysAsync(registry, round, keys.Take(2));
            Assert.Equal(FinalizationOutcome.Finalized, result.Outcome);
            Assert.True(result.Record.Verified);
            Assert.True(result.Record.Matches);
            Assert.Equal(round.ModelCid, result.Record.ModelCid);
            Assert.Equal(round.ModelCid, (await new RegistryClient(new ChainConnector(
                Microsoft.Extensions.Options.Options.Create(new ChainOptions { RpcUrl = anvil.RpcUrl, ChainId = 31337 }),
                Microsoft.Extensions.Logging.Abstractions.NullLogger<ChainConnector>.Instance)).GetRoundAsync(registry, round.JobId, round.Round, default)).ModelCid);
        }

        // The watcher's events carry each round's CID.
        await chain.Grains.GetGrain<IChainWatcherGrain>(ChainKeys.Default).PollAsync();
        var events = await Eventually.WaitAsync(probe.GetEventsAsync, e => e.Count(x => x.JobId == "job-cid") >= 2, "two RoundFinalized events of job-cid");
        Assert.Equal(rounds.Select(r => (r.Round, r.ModelRef, r.ModelCid)), events.Where(e => e.JobId == "job-cid").OrderBy(e => e.Round).Select(e => (e.Round, e.ModelRef, e.ModelCid)));
    }

    [Fact]
    public async Task RotateValidators_ThroughTheWorkloads_EachProposedKeyProven()
    {
        await using var chain = await ChainCluster.StartAsync(anvil.RpcUrl, await anvil.FundedKeyAsync());
        var old = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            old.Add((await chain.CreateValidatorAsync($"old-{i}")).Id);
        }

        await chain.Chain.DeployRegistryAsync(new DeployRegistryCommand { Validators = old, Threshold = 2 });
        var fresh = new List<(string Id, string Address)>();
        for (var i = 0; i < 3; i++)
        {
            fresh.Add(await chain.CreateValidatorAsync($"new-{i}"));
        }

        // A silent vPod cannot be proposed: it proves no key.
        var silent = await chain.CreateSilentValidatorAsync("new-silent");
        var refused = await Assert.ThrowsAsync<InvalidChainRequestException>(() => chain.Chain.RotateValidatorsAsync([.. fresh.Select(f => f.Id), silent], 2));
        Assert.Contains(silent, refused.Message, StringComparison.Ordinal);

        var rotated = await chain.Chain.RotateValidatorsAsync(fresh.Select(f => f.Id).ToArray(), 2);
        Assert.Equal(2, rotated.SetId);
        Assert.Equal(RegistryClient.SortValidators(fresh.Select(f => f.Address)), rotated.Validators.Select(v => v.Address).ToArray());
        Assert.All(rotated.Validators, v => Assert.NotNull(v.VPodId));
    }

    [Fact]
    public async Task ARegistryAddressRunningOtherCode_IsRefusedByName_BeforeAnythingIsSignedOrSent()
    {
        // A contract whose runtime code only returns 42: what an older ResultRegistry (another signed type) looks like to this version.
        var web3 = new Nethereum.Web3.Web3(new Nethereum.Web3.Accounts.Account(await anvil.FundedKeyAsync(), 31337), anvil.RpcUrl);
        var receipt = await RegistryHarness.SendAsync(web3, null, "0x69602a60005260206000f3600052600a6016f3", 200_000);
        Assert.Equal(1, (int)receipt.Status.Value);
        var other = receipt.ContractAddress.ToLowerInvariant();

        await using var chain = await ChainCluster.StartAsync(anvil.RpcUrl, await anvil.FundedKeyAsync(), new Dictionary<string, string?> { ["MetaNode:Chain:RegistryAddress"] = other });
        var status = await chain.Chain.GetStatusAsync();
        Assert.Contains($"the registry {other} is not this version's ResultRegistry", status.Reason, StringComparison.Ordinal);
        Assert.Contains("chain deploy", status.Reason, StringComparison.Ordinal);
        var refused = await Assert.ThrowsAsync<ChainUnavailableException>(() => chain.Chain.GetRoundAsync("job", 1));
        Assert.Contains("is not this version's ResultRegistry", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChainStatus_IsOffWithAReason_WhenNoChainIsConfigured()
    {
        await using var chain = await ChainCluster.StartAsync(anvil.RpcUrl, await anvil.FundedKeyAsync(), new Dictionary<string, string?> { ["MetaNode:Chain:RpcUrl"] = string.Empty, ["MetaNode:Chain:AccountPrivateKey"] = string.Empty });
        var status = await chain.Chain.GetStatusAsync();
        Assert.False(status.Enabled);
        Assert.Contains("MetaNode:Chain:RpcUrl", status.Reason, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ChainUnavailableException>(() => chain.Chain.GetRoundAsync("job", 1));

        // Workloads still prove their keys without a chain (chain id 0).
        var (_, address) = await chain.CreateValidatorAsync("offline-validator");
        Assert.True(HexValues.IsAddress(address));
    }
}
