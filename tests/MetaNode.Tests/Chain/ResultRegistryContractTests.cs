using System.Diagnostics;
using System.Numerics;
using MetaNode.Chain;
using MetaNode.Grains.Chain;
using MetaNode.Tests.Infrastructure;
using Nethereum.Signer;
using Nethereum.ABI.EIP712;
using Nethereum.Contracts;
using Xunit.Abstractions;

namespace MetaNode.Tests.Chain;

/// <summary>The ResultRegistry contract on a real anvil, driven through Nethereum.</summary>
public sealed class ResultRegistryContractTests(AnvilFixture anvil, ITestOutputHelper output) : IClassFixture<AnvilFixture>
{
    [Fact]
    public async Task Artifacts_MatchTheSources_WhenRecompiledWithSolcJs()
    {
        var root = AnvilNode.RepositoryRoot;
        var info = new ProcessStartInfo("node", "compile.js --check")
        {
            WorkingDirectory = Path.Combine(root, "contracts"),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"contracts/artifacts are stale or the sources do not compile (exit {process.ExitCode}):\n{await stdout}\n{await stderr}");
        Assert.Contains("up to date: artifacts/ResultRegistry.json", await stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FinalizeRound_RecordsOnceAndEmitsTheEvent_WithKValidSignatures()
    {
        var registry = await RegistryHarness.DeployAsync(anvil, validators: 3, threshold: 2);
        var round = RegistryHarness.Round("job-happy", 1);
        var receipt = await registry.SendAsync(registry.FinalizeData(round, registry.SignRound(round, registry.Validators.Take(2))));
        Assert.Equal(1, (int)receipt.Status.Value);

        var log = Assert.Single(receipt.Logs);
        Assert.Equal(RegistryClient.RoundFinalizedTopic, log.Topics[0].ToString());
        var record = await new RegistryClient(Connector()).GetRoundAsync(registry.Address, "job-happy", 1, default);
        Assert.True(record.Finalized);
        Assert.True(record.Verified, "the event's fields must hash to the stored commitment");
        Assert.Equal(round.ResultHash, record.ResultHash);
        Assert.Equal(round.ReceiptsRoot, record.ReceiptsRoot);
        Assert.Equal(round.ModelRef, record.ModelRef);
        Assert.Equal((long)receipt.BlockNumber.Value, record.BlockNumber);
        Assert.Equal(receipt.TransactionHash, record.TransactionHash);

        var other = await new RegistryClient(Connector()).GetRoundAsync(registry.Address, "job-happy", 2, default);
        Assert.False(other.Finalized);
    }

    [Fact]
    public async Task FinalizeRound_Reverts_WithKMinusOneSignatures()
    {
        var registry = await RegistryHarness.DeployAsync(anvil, validators: 3, threshold: 2);
        var round = RegistryHarness.Round("job-k-1", 1);
        var reason = await registry.ExpectRevertAsync(registry.FinalizeData(round, registry.SignRound(round, registry.Validators.Take(1))));
        Assert.StartsWith("NotEnoughSignatures(given=1, threshold=2)", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FinalizeRound_Reverts_WithADuplicateSigner()
    {
        var registry = await RegistryHarness.DeployAsync(anvil, validators: 3, threshold: 2);
        var round = RegistryHarness.Round("job-dup", 1);
        var one = registry.SignRound(round, registry.Validators.Take(1))[0];

        // The same signer twice (packed as given: PackSorted keeps both).
        var reason = await registry.ExpectRevertAsync(registry.FinalizeData(round, [one, one]));
        Assert.StartsWith("SignersNotSorted(index=1", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FinalizeRound_Reverts_WithANonValidatorSigner()
    {
        var registry = await RegistryHarness.DeployAsync(anvil, validators: 3, threshold: 2);
        var round = RegistryHarness.Round("job-outsider", 1);
        var outsider = EthECKey.GenerateKey();
        var signatures = registry.SignRound(round, [registry.Validators[0], outsider]);

        // Sent with the set's other two validators as non-signers: the rebuilt set has four members, not the registry's three.
        Assert.StartsWith("NotTheValidatorSet(", await registry.ExpectRevertAsync(registry.FinalizeData(round, signatures)), StringComparison.Ordinal);

        // Nor can the outsider stand in for the member it leaves out: the rebuilt set is then another set of three.
        var member = RegistryHarness.Sign(registry.Validators[0], RegistryTypedData.FinalizeDigest(registry.Domain, round)).Signer;
        var standIn = registry.Set.Where(v => v != member).Skip(1);
        var reason = await registry.ExpectRevertAsync(RegistryHarness.FinalizeData(round, signatures, [], standIn));
        Assert.StartsWith("NotTheValidatorSet(", reason, StringComparison.Ordinal);
        Assert.False((await new RegistryClient(Connector()).GetRoundAsync(registry.Address, round.JobId, round.Round, default)).Finalized);
    }

    [Fact]
    public async Task FinalizeRound_Reverts_WhenTheCalldataCarriesAForgedValidatorSet()
    {
        var registry = await RegistryHarness.DeployAsync(anvil, validators: 3, threshold: 2);
        var round = RegistryHarness.Round("job-forged-set", 1);
        var signatures = RegistryTypedData.LowestSigners(registry.SignRound(round, registry.Validators), 2);
        var nonSigner = registry.Set[2];
        var stranger = EthECKey.GenerateKey().GetPublicAddress().ToLowerInvariant();

        // The right signers with a wrong account of the others: none, another address, an extra one, one twice, or a signer again.
        IEnumerable<string>[] forged = [[], [stranger], [nonSigner, stranger], [nonSigner, nonSigner], [signatures[0].Signer]];
        foreach (var others in forged)
        {
            var reason = await registry.ExpectRevertAsync(RegistryHarness.FinalizeData(round, signatures, [], others));
            Assert.StartsWith("NotTheValidatorSet(", reason, StringComparison.Ordinal);
        }

        // A packed tail whose length does not add up to signatures and whole addresses is refused before any recovery.
        var truncated = registry.FinalizeData(round, signatures)[..^2];
        Assert.StartsWith("MalformedFinalization(", await registry.ExpectRevertAsync(truncated), StringComparison.Ordinal);

        // The true set goes through.
        Assert.Equal(1, (int)(await registry.SendAsync(RegistryHarness.FinalizeData(round, signatures, [], [nonSigner]))).Status.Value);
    }

    [Fact]
    public async Task FinalizeRound_Reverts_ForAHighSSignature()
    {
        var registry = await RegistryHarness.DeployAsync(anvil, validators: 3, threshold: 2);
        var round = RegistryHarness.Round("job-high-s", 1);
        var signatures = RegistryTypedData.LowestSigners(registry.SignRound(round, registry.Validators), 2).ToArray();

        // s = n/2 + 1 still fits a compact signature (its top bit is clear) and, with a real r, recovers to some address: only the
        // low-s rule refuses it.
        var bytes = Convert.FromHexString(signatures[0].Signature[2..]);
        var highS = (BigInteger.Parse("7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0", System.Globalization.NumberStyles.HexNumber) + 1).ToByteArray(isUnsigned: true, isBigEndian: true);
        highS.CopyTo(bytes, 32);
        signatures[0] = signatures[0] with { Signature = HexValues.ToHex(bytes) };
        Assert.Equal("InvalidSignature(index=0)", await registry.ExpectRevertAsync(registry.FinalizeData(round, signatures)));
    }

    [Theory]
    [InlineData("chain id")]
    [InlineData("contract")]
    public async Task FinalizeRound_Reverts_ForADigestOfAnotherDomain(string which)
    {
        var registry = await RegistryHarness.DeployAsync(anvil, validators: 3, threshold: 2);
        var round = RegistryHarness.Round("job-domain", 1);
        var domain = which == "chain id"
            ? registry.Domain with { ChainId = 1 }
            : registry.Domain with { Registry = "0x" + new string('1', 40) };

        // Signatures over another domain recover to unrelated addresses: they are not validators.
        var reason = await registry.ExpectRevertAsync(registry.FinalizeData(round, registry.SignRound(round, registry.Validators.Take(2), domain)));
        Assert.True(reason.StartsWith("NotTheValidatorSet(", StringComparison.Ordinal) || reason.StartsWith("SignersNotSorted(", StringComparison.Ordinal), reason);
    }

    [Fact]
    public async Task FinalizeRound_Reverts_WhenTheRoundIsReplayed()
    {
        var registry = await RegistryHarness.DeployAsync(anvil, validators: 3, threshold: 2);
        var round = RegistryHarness.Round("job-replay", 7);
        var data = registry.FinalizeData(round, registry.SignRound(round, registry.Validators.Take(2)));
        var first = await registry.SendAsync(data);
        Assert.Equal(1, (int)first.Status.Value);

        var reason = await registry.ExpectRevertAsync(data);
        Assert.Equal($"RoundAlreadyFinalized(jobId='job-replay', round=7, blockNumber={first.BlockNumber.Value})", reason);

        // A different result for the same round is refused just the same.
        var changed = round with { ResultHash = HexValues.ToHex(new byte[32]) };
        Assert.StartsWith("RoundAlreadyFinalized(", await registry.ExpectRevertAsync(registry.FinalizeData(changed, registry.SignRound(changed, registry.Validators.Skip(1)))), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RotateValidators_NeedsKCurrentSignatures_AndOldKeysStopCounting()
    {
        var registry = await RegistryHarness.DeployAsync(anvil, validators: 3, threshold: 2);
        var client = new RegistryClient(Connector());
        var before = await client.GetStateAsync(registry.Address, default);
        Assert.Equal(1, before.SetId);

        var next = Enumerable.Range(0, 3).Select(_ => EthECKey.GenerateKey()).ToArray();
        var nextSet = RegistryClient.SortValidators(next.Select(k => k.GetPublicAddress()));
        var digest = RegistryTypedData.RotationDigest(registry.Domain, nextSet, 2, before.SetId);

        // k-1 signatures of the current set, or k signatures of the new set, are refused.
        Assert.StartsWith("NotEnoughSignatures(", await registry.ExpectRevertAsync(RegistryClient.EncodeRotate(registry.Address, nextSet, 2, [RegistryHarness.Sign(registry.Validators[0], digest)])), StringComparison.Ordinal);
        Assert.StartsWith("NotAValidator(", await registry.ExpectRevertAsync(RegistryClient.EncodeRotate(registry.Address, nextSet, 2, next.Take(2).Select(k => RegistryHarness.Sign(k, digest)))), StringComparison.Ordinal);

        var rotation = RegistryClient.EncodeRotate(registry.Address, nextSet, 2, registry.Validators.Skip(1).Select(k => RegistryHarness.Sign(k, digest)));
        Assert.Equal(1, (int)(await registry.SendAsync(rotation)).Status.Value);
        var after = await client.GetStateAsync(registry.Address, default);
        Assert.Equal(2, after.SetId);
        Assert.Equal(2, after.Threshold);
        Assert.Equal(nextSet, after.Validators);

        // The same rotation again: its nonce is spent, so the old keys no longer authorise anything.
        Assert.StartsWith("NotAValidator(", await registry.ExpectRevertAsync(rotation), StringComparison.Ordinal);

        // Rotated-out validators cannot finalize, whether sent with the new set's members as non-signers or with their own old set.
        var oldSet = registry.Set;
        registry.Set = nextSet;
        var round = RegistryHarness.Round("job-rotated", 1);
        var old = registry.SignRound(round, registry.Validators.Take(2));
        Assert.StartsWith("NotTheValidatorSet(", await registry.ExpectRevertAsync(registry.FinalizeData(round, old)), StringComparison.Ordinal);
        Assert.StartsWith("NotTheValidatorSet(", await registry.ExpectRevertAsync(RegistryHarness.FinalizeData(round, old, [], RegistryFinalizeCalldata.NonSigners(oldSet, old))), StringComparison.Ordinal);
        Assert.Equal(1, (int)(await registry.SendAsync(registry.FinalizeData(round, registry.SignRound(round, next.Take(2))))).Status.Value);
    }

    [Fact]
    public async Task ValidatorSetHash_IsTheSetsHash_AndFollowsARotation()
    {
        var registry = await RegistryHarness.DeployAsync(anvil, validators: 3, threshold: 2);
        var contract = RegistryClient.Contract(registry.Web3, registry.Address);
        async Task<string> StoredAsync() => HexValues.ToHex(await contract.GetFunction("validatorSetHash").CallAsync<byte[]>());

        var first = await StoredAsync();
        Assert.Equal(HexValues.ToHex(RegistryFinalizeCalldata.SetHash(registry.Set)), first);
        Assert.EndsWith(new string('0', 18), first, StringComparison.Ordinal);

        var next = Enumerable.Range(0, 4).Select(_ => EthECKey.GenerateKey()).ToArray();
        var nextSet = RegistryClient.SortValidators(next.Select(k => k.GetPublicAddress()));
        var digest = RegistryTypedData.RotationDigest(registry.Domain, nextSet, 3, 1);
        Assert.Equal(1, (int)(await registry.SendAsync(RegistryClient.EncodeRotate(registry.Address, nextSet, 3, registry.Validators.Take(2).Select(k => RegistryHarness.Sign(k, digest))))).Status.Value);

        var second = await StoredAsync();
        Assert.NotEqual(first, second);
        Assert.Equal(HexValues.ToHex(RegistryFinalizeCalldata.SetHash(nextSet)), second);

        // The views that share its slot still answer, one by one and together.
        var state = await new RegistryClient(Connector()).GetStateAsync(registry.Address, default);
        Assert.Equal((2L, 3), (state.SetId, state.Threshold));
        Assert.Equal(nextSet, state.Validators);
        Assert.Equal(3UL, await contract.GetFunction("threshold").CallAsync<ulong>());
        Assert.Equal(2UL, await contract.GetFunction("setId").CallAsync<ulong>());
        Assert.True(await contract.GetFunction("isValidator").CallAsync<bool>(nextSet[0]));
        Assert.False(await contract.GetFunction("isValidator").CallAsync<bool>(registry.Set[0]));

        // Three of the new four finalize against it; two do not reach its threshold.
        registry.Set = nextSet;
        var round = RegistryHarness.Round("job-new-set", 1);
        Assert.StartsWith("NotEnoughSignatures(given=2, threshold=3)", await registry.ExpectRevertAsync(registry.FinalizeData(round, registry.SignRound(round, next.Take(2)))), StringComparison.Ordinal);
        Assert.Equal(1, (int)(await registry.SendAsync(registry.FinalizeData(round, registry.SignRound(round, next.Take(3))))).Status.Value);
    }

    [Fact]
    public async Task TypedData_DigestMatchesTheContractAndNethereumEip712Signer()
    {
        var registry = await RegistryHarness.DeployAsync(anvil, validators: 1, threshold: 1);
        var plain = RegistryHarness.Round("job-digest", 42);
        // A dag-pb CID: signed as EIP-712 bytes (hashed), here checked against the contract and Nethereum's encoder alike.
        var round = plain with { ModelCid = MetaNode.Storage.Cid.Read(RegistryHarness.CidBytes(0x70, plain.ResultHash), out _).ToString() };
        var ours = RegistryTypedData.FinalizeDigest(registry.Domain, round);
        Assert.NotEqual(HexValues.ToHex(ours), HexValues.ToHex(RegistryTypedData.FinalizeDigest(registry.Domain, plain)));
        var contract = await RegistryClient.Contract(registry.Web3, registry.Address).GetFunction("hashFinalizeRound").CallAsync<byte[]>(
            HexValues.JobIdToBytes32(round.JobId), new BigInteger(round.Round), HexValues.ParseBytes32(round.ResultHash, "r"), HexValues.ParseBytes32(round.ReceiptsRoot, "r"), HexValues.ParseBytes32(round.ModelRef, "m"), RegistryModelCid.ToBytes(round));
        Assert.Equal(HexValues.ToHex(contract), HexValues.ToHex(ours));

        var typedData = new TypedData<Domain>
        {
            Domain = new Domain { Name = RegistryTypedData.DomainName, Version = RegistryTypedData.DomainVersion, ChainId = registry.ChainId, VerifyingContract = registry.Address },
            Types = MemberDescriptionFactory.GetTypesMemberDescription(typeof(Domain), typeof(FinalizeRound)),
            PrimaryType = nameof(FinalizeRound),
        };
        var message = new FinalizeRound
        {
            JobId = HexValues.JobIdToBytes32(round.JobId),
            Round = (ulong)round.Round,
            ResultHash = HexValues.ParseBytes32(round.ResultHash, "r"),
            ReceiptsRoot = HexValues.ParseBytes32(round.ReceiptsRoot, "r"),
            ModelRef = HexValues.ParseBytes32(round.ModelRef, "m"),
            ModelCid = RegistryModelCid.ToBytes(round),
        };
        var nethereum = Eip712TypedDataEncoder.Current.EncodeAndHashTypedData(message, typedData);
        Assert.Equal(HexValues.ToHex(nethereum), HexValues.ToHex(ours));

        var key = registry.Validators[0];
        var signature = RegistryTypedData.Sign(EthereumSignatures.PrivateKeyBytes(key.GetPrivateKeyAsBytes()), ours);
        Assert.Equal(key.GetPublicAddress().ToLowerInvariant(), RegistryTypedData.Recover(ours, signature));
    }

    [Fact]
    public async Task FinalizeRound_GasStaysWithinTarget_ForK2K3K5()
    {
        foreach (var k in new[] { 2, 3, 5 })
        {
            var registry = await RegistryHarness.DeployAsync(anvil, validators: k, threshold: k);
            var number = 0;
            foreach (var kind in new[] { "no CID", "raw CID", "dag-pb CID" })
            {
                var round = RegistryHarness.Round($"job-gas-{k}", ++number);
                byte[] cid = kind switch
                {
                    "raw CID" => RegistryHarness.CidBytes(0x55, round.ModelRef),
                    "dag-pb CID" => RegistryHarness.CidBytes(0x70, round.ResultHash),
                    _ => [],
                };
                var data = registry.FinalizeData(round, registry.SignRound(RegistryHarness.WithCid(round, cid), registry.Validators), cid);
                var receipt = await registry.SendAsync(data);
                Assert.Equal(1, (int)receipt.Status.Value);
                var gas = (long)receipt.GasUsed.Value;
                var target = 60_000 + (8_000 * k);

                // Execution: what is left after the transaction's base cost and its calldata (16 gas a non-zero byte, 4 a zero byte),
                // which varies with the random validator keys' signatures.
                var calldata = Convert.FromHexString(data[2..]).Sum(b => b == 0 ? 4L : 16L);
                output.WriteLine($"k={k}, {kind}: finalizeRound used {gas} gas (target {target}; calldata {calldata}, execution {gas - 21_000 - calldata})");
                Assert.True(gas <= target, $"k={k}, {kind}: {gas} gas is over the target {target}");
            }
        }
    }

    [Fact]
    public async Task FinalizeRound_WithExactlyKSignatures_CostsLessThanWithAllAgreeing_SideBySide()
    {
        // Threshold 2 of 3, all three agree (as in a job): the same kind of round finalized once with all three signatures and once
        // with the two the job now sends (the lowest signer addresses).
        var registry = await RegistryHarness.DeployAsync(anvil, validators: 3, threshold: 2);
        var gas = new Dictionary<string, long>();
        foreach (var (kind, number) in new[] { ("all 3", 1), ("exactly 2", 2) })
        {
            var round = RegistryHarness.Round("job-exact-k", number);
            var cid = RegistryHarness.CidBytes(0x70, round.ResultHash);
            var signed = registry.SignRound(RegistryHarness.WithCid(round, cid), registry.Validators);
            var sent = kind == "all 3" ? signed : RegistryTypedData.LowestSigners(signed, 2);
            var receipt = await registry.SendAsync(registry.FinalizeData(round, sent, cid));
            Assert.Equal(1, (int)receipt.Status.Value);
            gas[kind] = (long)receipt.GasUsed.Value;
        }

        output.WriteLine($"finalizeRound, threshold 2 of 3: all 3 signatures {gas["all 3"]} gas, exactly 2 {gas["exactly 2"]} gas ({gas["all 3"] - gas["exactly 2"]} less)");

        // One recovery (3,000) less, and a 64-byte signature less for a 20-byte non-signer more in the calldata.
        Assert.True(gas["all 3"] - gas["exactly 2"] >= 3_500, $"sending exactly k saved only {gas["all 3"] - gas["exactly 2"]} gas");
        Assert.True(gas["exactly 2"] <= 62_000, $"{gas["exactly 2"]} gas for k = 2 is over the ceiling of 62,000");
    }

    [Theory]
    [InlineData("raw")]
    [InlineData("dag-pb")]
    public async Task FinalizeRound_RecordsTheModelCid_InTheEvent(string codec)
    {
        var registry = await RegistryHarness.DeployAsync(anvil, validators: 3, threshold: 2);
        var round = RegistryHarness.Round($"job-cid-{codec}", 1);

        // A raw CID names the model's own bytes (digest = model ref); a dag-pb CID names a root node the contract cannot check.
        var cid = codec == "raw"
            ? RegistryHarness.CidBytes(0x55, round.ModelRef)
            : RegistryHarness.CidBytes(0x70, HexValues.ToHex(RegistryTypedData.Keccak("a dag-pb root node"u8.ToArray())));
        var receipt = await registry.SendAsync(registry.FinalizeData(round, registry.SignRound(RegistryHarness.WithCid(round, cid), registry.Validators.Take(2)), cid));
        Assert.Equal(1, (int)receipt.Status.Value);

        // The log's data, written out word by word as the ABI lays out (bytes32, bytes32, bytes32, bytes): the three words,
        // the offset of the bytes (0x80), their length (36), and the 36 bytes right-padded with zeros to two words.
        var log = Assert.Single(receipt.Logs);
        var expected = "0x" + Hex(round.ResultHash) + Hex(round.ReceiptsRoot) + Hex(round.ModelRef)
            + Convert.ToHexStringLower(Word(0x80)) + Convert.ToHexStringLower(Word(36)) + Convert.ToHexStringLower(cid) + new string('0', 56);
        Assert.Equal(expected, log.Data);

        // Nethereum's ABI decoder, from an event type declared here (its topic is computed from this declaration, not from RegistryClient).
        var decoded = Assert.Single(receipt.DecodeAllEvents<RoundFinalizedEventDto>());
        Assert.Equal(round.JobId, HexValues.JobIdFromBytes32(decoded.Event.JobId));
        Assert.Equal((ulong)round.Round, decoded.Event.Round);
        Assert.Equal(round.ModelRef, HexValues.ToHex(decoded.Event.ModelRef));
        Assert.Equal(Convert.ToHexStringLower(cid), Convert.ToHexStringLower(decoded.Event.ModelCid));

        // RegistryClient reads the CID back as text (multibase 'b' + RFC 4648 base32, lower case, no padding), verified against the commitment.
        var record = await new RegistryClient(Connector()).GetRoundAsync(registry.Address, round.JobId, round.Round, default);
        Assert.True(record.Verified);
        Assert.Equal(round.ModelRef, record.ModelRef);
        Assert.Equal("b" + Base32(cid), record.ModelCid);
    }

    [Fact]
    public async Task FinalizeRound_RefusesACidTheValidatorsDidNotSign_SoNoSubmitterCanRecordAnother()
    {
        var registry = await RegistryHarness.DeployAsync(anvil, validators: 3, threshold: 2);
        var round = RegistryHarness.Round("job-cid-signed", 1);
        var signedCid = RegistryHarness.CidBytes(0x70, round.ResultHash);
        var signatures = registry.SignRound(RegistryHarness.WithCid(round, signedCid), registry.Validators.Take(2));

        // The same signatures with another CID, or with none: what they recover to is no validator (or out of order).
        var other = RegistryHarness.CidBytes(0x70, round.ReceiptsRoot);
        foreach (var cid in new[] { other, [] })
        {
            var reason = await registry.ExpectRevertAsync(registry.FinalizeData(round, signatures, cid));
            Assert.True(reason.StartsWith("NotTheValidatorSet(", StringComparison.Ordinal) || reason.StartsWith("SignersNotSorted(", StringComparison.Ordinal), reason);
        }

        Assert.Equal(1, (int)(await registry.SendAsync(registry.FinalizeData(round, signatures, signedCid))).Status.Value);
    }

    [Fact]
    public async Task FinalizeRound_RecordsNoCid_WhenItIsEmpty()
    {
        var registry = await RegistryHarness.DeployAsync(anvil, validators: 3, threshold: 2);
        var round = RegistryHarness.Round("job-no-cid", 1);
        var receipt = await registry.SendAsync(registry.FinalizeData(round, registry.SignRound(round, registry.Validators.Take(2)), []));
        Assert.Equal(1, (int)receipt.Status.Value);

        var log = Assert.Single(receipt.Logs);
        Assert.Equal("0x" + Hex(round.ResultHash) + Hex(round.ReceiptsRoot) + Hex(round.ModelRef) + Convert.ToHexStringLower(Word(0x80)) + new string('0', 64), log.Data);
        Assert.Empty(Assert.Single(receipt.DecodeAllEvents<RoundFinalizedEventDto>()).Event.ModelCid);
        var record = await new RegistryClient(Connector()).GetRoundAsync(registry.Address, round.JobId, round.Round, default);
        Assert.True(record.Verified);
        Assert.Equal(string.Empty, record.ModelCid);
    }

    [Theory]
    [InlineData("raw CID of another digest")]
    [InlineData("35 bytes")]
    [InlineData("37 bytes")]
    [InlineData("dag-pb of 35 bytes")]
    [InlineData("another codec (dag-cbor)")]
    [InlineData("another hash (keccak-256)")]
    [InlineData("another digest length")]
    [InlineData("CID version 0")]
    [InlineData("a bare digest")]
    public async Task FinalizeRound_Reverts_ForAnInvalidModelCid(string which)
    {
        var registry = await RegistryHarness.DeployAsync(anvil, validators: 3, threshold: 2);
        var round = RegistryHarness.Round("job-bad-cid", 1);
        var raw = RegistryHarness.CidBytes(0x55, round.ModelRef);
        var cid = which switch
        {
            "raw CID of another digest" => RegistryHarness.CidBytes(0x55, round.ResultHash),
            "35 bytes" => raw[..35],
            "37 bytes" => [.. raw, 0x00],
            "dag-pb of 35 bytes" => RegistryHarness.CidBytes(0x70, round.ModelRef)[..35],
            "another codec (dag-cbor)" => RegistryHarness.CidBytes(0x71, round.ModelRef),
            "another hash (keccak-256)" => RegistryHarness.CidBytes(0x55, round.ModelRef, hash: 0x1b),
            "another digest length" => RegistryHarness.CidBytes(0x55, round.ModelRef, length: 0x1f),
            "CID version 0" => RegistryHarness.CidBytes(0x55, round.ModelRef, version: 0x00),
            "a bare digest" => HexValues.ParseBytes32(round.ModelRef, "m"),
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };

        var reason = await registry.ExpectRevertAsync(registry.FinalizeData(round, registry.SignRound(round, registry.Validators.Take(2)), cid));
        Assert.Equal($"InvalidModelCid(modelCid={HexValues.ToHex(cid)})", reason);
        Assert.False((await new RegistryClient(Connector()).GetRoundAsync(registry.Address, round.JobId, round.Round, default)).Finalized);

        // The same round with a valid CID then goes through: nothing was recorded.
        Assert.Equal(1, (int)(await registry.SendAsync(registry.FinalizeData(round, registry.SignRound(RegistryHarness.WithCid(round, raw), registry.Validators.Take(2)), raw))).Status.Value);
    }

    private static string Hex(string hash) => hash[2..].ToLowerInvariant();

    private static byte[] Word(int value)
    {
        var word = new byte[32];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(word.AsSpan(28), value);
        return word;
    }

    /// <summary>RFC 4648 base32, lower case, no padding.</summary>
    private static string Base32(byte[] bytes)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        var text = new System.Text.StringBuilder();
        int buffer = 0, bits = 0;
        foreach (var b in bytes)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                text.Append(alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }

        if (bits > 0)
        {
            text.Append(alphabet[(buffer << (5 - bits)) & 31]);
        }

        return text.ToString();
    }

    private ChainConnector Connector()
    {
        var options = Microsoft.Extensions.Options.Options.Create(new ChainOptions { RpcUrl = anvil.RpcUrl, ChainId = 31337 });
        return new ChainConnector(options, Microsoft.Extensions.Logging.Abstractions.NullLogger<ChainConnector>.Instance);
    }

    [Nethereum.ABI.FunctionEncoding.Attributes.Event("RoundFinalized")]
    private sealed class RoundFinalizedEventDto : Nethereum.ABI.FunctionEncoding.Attributes.IEventDTO
    {
        [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("bytes32", "jobId", 1, true)]
        public byte[] JobId { get; set; } = [];

        [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("uint64", "round", 2, true)]
        public ulong Round { get; set; }

        [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("bytes32", "resultHash", 3, false)]
        public byte[] ResultHash { get; set; } = [];

        [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("bytes32", "receiptsRoot", 4, false)]
        public byte[] ReceiptsRoot { get; set; } = [];

        [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("bytes32", "modelRef", 5, false)]
        public byte[] ModelRef { get; set; } = [];

        [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("bytes", "modelCid", 6, false)]
        public byte[] ModelCid { get; set; } = [];
    }

    [Nethereum.ABI.FunctionEncoding.Attributes.Struct("FinalizeRound")]
    private sealed class FinalizeRound
    {
        [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("bytes32", "jobId", 1)]
        public byte[] JobId { get; set; } = [];

        [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("uint64", "round", 2)]
        public ulong Round { get; set; }

        [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("bytes32", "resultHash", 3)]
        public byte[] ResultHash { get; set; } = [];

        [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("bytes32", "receiptsRoot", 4)]
        public byte[] ReceiptsRoot { get; set; } = [];

        [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("bytes32", "modelRef", 5)]
        public byte[] ModelRef { get; set; } = [];

        [Nethereum.ABI.FunctionEncoding.Attributes.Parameter("bytes", "modelCid", 6)]
        public byte[] ModelCid { get; set; } = [];
    }
}
