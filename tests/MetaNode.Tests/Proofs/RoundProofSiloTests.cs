using System.Text.Json.Nodes;
using MetaNode.Chain;
using MetaNode.Proofs;
using MetaNode.Storage;
using MetaNode.Tests.Infrastructure;
using MetaNode.Tests.Storage;
using Xunit.Abstractions;

namespace MetaNode.Tests.Proofs;

/// <summary>
/// Proofs of real rounds, checked by both verifiers — <c>metanode-cli proof verify</c> and the JavaScript one in examples/ — against
/// the dev chain alone: they accept what <c>proof export</c> wrote and reject a copy with any one field changed, naming the check.
/// </summary>
public sealed class RoundProofSiloTests(RoundProofFixture fixture, ITestOutputHelper output) : IClassFixture<RoundProofFixture>
{
    /// <summary>One change to a bundle and the check that must then fail first.</summary>
    public static TheoryData<string, string> Changes => new()
    {
        { "unknown-member", "format" },
        { "unknown-receipt-member", "format" },
        { "upper-case-hex", "format" },
        { "chain-id", "chain" },
        { "registry", "registry-code" },
        { "transaction-hash", "transaction" },
        { "block-number", "transaction" },
        { "block-hash", "transaction" },
        { "job", "event" },
        { "round", "event" },
        { "result-hash", "event" },
        { "receipts-root", "event" },
        { "model-ref", "event" },
        { "model-cid", "event" },
        { "validator-signature-digit", "validator-signatures" },
        { "validator-address", "validator-signatures" },
        { "validator-high-s", "validator-signatures" },
        { "validator-v", "validator-signatures" },
        { "below-threshold", "validator-signatures" },
        { "outsider-signature", "validator-signatures" },
        { "receipt-sample-count", "receipt-signatures" },
        { "receipt-update-hash", "receipt-signatures" },
        { "receipt-signature", "receipt-signatures" },
        { "receipt-address", "receipt-signatures" },
        { "receipt-high-s", "receipt-signatures" },
        { "receipt-vpod", "receipt-signatures" },
        { "branch", "receipt-branches" },
        { "receipt-left-out", "receipt-branches" },
        { "model-byte", "model" },
        { "model-other-file", "model" },
    };

    [Fact]
    public async Task BothVerifiers_AcceptTheProofsOfRealRounds_FederatedAverageAndSecureAggregation_AndALargeModelsDagPbCid()
    {
        Assert.StartsWith("bafybei", RoundProofJson.Parse(File.ReadAllBytes(fixture.WideBundle)).ModelCid, StringComparison.Ordinal);
        foreach (var bundle in new[] { fixture.FederatedBundle, fixture.SecureBundle, fixture.WideBundle })
        {
            var dotnet = await fixture.VerifyWithCliAsync(bundle, "--registry", fixture.Registry);
            output.WriteLine(dotnet.Stdout);
            Assert.True(dotnet.ExitCode == 0, dotnet.ToString());
            Assert.Equal(RoundProofVerifier.CheckNames, dotnet.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[5..l.IndexOf(':', StringComparison.Ordinal)]));

            var javaScript = await fixture.VerifyWithJavaScriptAsync(bundle, "--registry", fixture.Registry);
            output.WriteLine(javaScript.Stdout);
            Assert.True(javaScript.ExitCode == 0, javaScript.ToString());
            foreach (var check in RoundProofVerifier.CheckNames)
            {
                Assert.Contains($"ok   {check}:", javaScript.Stdout, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task TheBundle_HoldsWhatTheJobAndTheChainRecord_AndUnderSecureAggregationOnlyMaskedVectorsHashes()
    {
        foreach (var (bundle, job, round) in new[] { (fixture.FederatedBundle, fixture.FederatedJob, 2), (fixture.SecureBundle, fixture.SecureJob, 1) })
        {
            var proof = RoundProofJson.Parse(File.ReadAllBytes(bundle));
            var result = (await fixture.Cli.JsonAsync("job", "status", "--id", job)).GetProperty("results").EnumerateArray().Single(r => r.GetProperty("round").GetInt32() == round);
            var onChain = await fixture.Cli.JsonAsync("chain", "round", "--job", job, "--round", round.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(31337, proof.ChainId);
            Assert.Equal(fixture.Registry, proof.Registry);
            Assert.Equal(result.GetProperty("resultHash").GetString(), proof.ResultHash, ignoreCase: true);
            Assert.Equal(onChain.GetProperty("receiptsRoot").GetString(), proof.ReceiptsRoot, ignoreCase: true);
            Assert.Equal(onChain.GetProperty("modelCid").GetString(), proof.ModelCid);
            Assert.Equal(onChain.GetProperty("transactionHash").GetString(), proof.Transaction.Hash, ignoreCase: true);
            Assert.Equal(onChain.GetProperty("blockNumber").GetInt64(), proof.Transaction.BlockNumber);
            Assert.Equal(3, proof.Receipts.Count);
            Assert.True(proof.Validators.Count >= 2);

            // Each receipt's update hash is what that vPod sent the round: its model under federated averaging, its masked vector under
            // secure aggregation — never the hash of a plain update the validators did not see.
            var receipts = result.GetProperty("receipts").EnumerateArray().ToDictionary(r => r.GetProperty("vPodId").GetString()!, r => r.GetProperty("updateHash").GetString()!);
            Assert.All(proof.Receipts, r => Assert.Equal(receipts[r.VPod], r.UpdateHash, ignoreCase: true));

            // The embedded CAR is the model the job keeps, as IPFS's own CAR reader and UnixFS exporter unpack it.
            var car = Path.Combine(fixture.Scratch, $"{job}-{round}.car");
            await File.WriteAllBytesAsync(car, proof.ModelCar!);
            var model = Path.Combine(fixture.Scratch, $"{job}-{round}.model");
            await fixture.Cli.JsonAsync("job", "model", "--id", job, "--round", round.ToString(System.Globalization.CultureInfo.InvariantCulture), "--out", model);
            var unpacked = model + ".unpacked";
            var (code, _, stderr) = await IpfsReference.CarCheckAsync(car, proof.ModelCid, unpacked);
            Assert.True(code == 0, stderr);
            Assert.Equal(await File.ReadAllBytesAsync(model), await File.ReadAllBytesAsync(unpacked));
        }
    }

    [Theory]
    [MemberData(nameof(Changes))]
    public async Task BothVerifiers_RejectABundleWithOneFieldChanged_NamingTheFirstCheckThatFails(string change, string failedCheck)
    {
        var bundle = fixture.Variant(fixture.FederatedBundle, change, json => Apply(change, json));

        var dotnet = await fixture.VerifyWithCliAsync(bundle);
        output.WriteLine(dotnet.ToString());
        Assert.Equal(1, dotnet.ExitCode);
        Assert.Contains($"FAIL {failedCheck}:", dotnet.Stdout, StringComparison.Ordinal);
        Assert.Contains($"check '{failedCheck}' failed", dotnet.Stderr, StringComparison.Ordinal);

        var javaScript = await fixture.VerifyWithJavaScriptAsync(bundle);
        output.WriteLine(javaScript.ToString());
        Assert.Equal(1, javaScript.ExitCode);
        Assert.Contains($"FAIL {failedCheck}:", javaScript.Stdout + javaScript.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BothVerifiers_RejectALargeModelWithOneChunkByteChanged()
    {
        // The CAR's last block is a leaf of the dag-pb tree: its bytes no longer hash to the CID its parent names.
        var bundle = fixture.Variant(fixture.WideBundle, "leaf-byte", json => Apply("model-byte", json));
        var dotnet = await fixture.VerifyWithCliAsync(bundle);
        Assert.Equal(1, dotnet.ExitCode);
        Assert.Contains("FAIL model:", dotnet.Stdout, StringComparison.Ordinal);
        var javaScript = await fixture.VerifyWithJavaScriptAsync(bundle);
        Assert.Equal(1, javaScript.ExitCode);
        Assert.Contains("FAIL model:", javaScript.Stdout + javaScript.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BothVerifiers_RejectTheBundleOnAnotherChain_EvenOneWithTheSameChainId()
    {
        await using var other = new AnvilNode { ChainId = 31338 };
        await using var twin = new AnvilNode();
        await other.StartAsync();
        await twin.StartAsync();
        foreach (var (rpc, check) in new[] { (other.RpcUrl, "chain"), (twin.RpcUrl, "registry-code") })
        {
            var dotnet = await new CliRunner().RunAsync("proof", "verify", fixture.FederatedBundle, "--rpc-url", rpc);
            Assert.Equal(1, dotnet.ExitCode);
            Assert.Contains($"FAIL {check}:", dotnet.Stdout, StringComparison.Ordinal);
            var (code, stdout, stderr) = await RoundProofFixture.JavaScriptVerifier.NodeAsync("verify.mjs", fixture.FederatedBundle, "--rpc-url", rpc);
            Assert.True(code == 1, stdout + stderr);
            Assert.Contains($"FAIL {check}:", stdout + stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ABundleWithoutTheModel_HoldsWithTheGateway_AndNotWithoutIt()
    {
        Assert.Null(RoundProofJson.Parse(File.ReadAllBytes(fixture.BundleWithoutModel)).ModelCar);
        var gateway = fixture.Silo.HttpBase.ToString();

        var dotnet = await fixture.VerifyWithCliAsync(fixture.BundleWithoutModel, "--ipfs-gateway", gateway);
        Assert.True(dotnet.ExitCode == 0, dotnet.ToString());
        Assert.Contains("from the gateway", dotnet.Stdout, StringComparison.Ordinal);
        var javaScript = await fixture.VerifyWithJavaScriptAsync(fixture.BundleWithoutModel, "--ipfs-gateway", gateway);
        Assert.True(javaScript.ExitCode == 0, javaScript.ToString());

        var offline = await fixture.VerifyWithCliAsync(fixture.BundleWithoutModel);
        Assert.Equal(1, offline.ExitCode);
        Assert.Contains("FAIL model:", offline.Stdout, StringComparison.Ordinal);
        var json = await fixture.VerifyWithCliAsync(fixture.BundleWithoutModel, "--output", "json");
        Assert.Equal(1, json.ExitCode);
        Assert.False(json.Json.GetProperty("holds").GetBoolean());
        Assert.Equal("model", json.Json.GetProperty("failedCheck").GetString());
        Assert.Equal(RoundProofVerifier.CheckNames.Count, json.Json.GetProperty("checks").GetArrayLength());
        var offlineJs = await fixture.VerifyWithJavaScriptAsync(fixture.BundleWithoutModel);
        Assert.Equal(1, offlineJs.ExitCode);
        Assert.Contains("FAIL model:", offlineJs.Stdout + offlineJs.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_RequiresThePinnedRegistry_AndRefusesBadUsageWithExitCode2()
    {
        var elsewhere = "0x" + new string('1', 40);
        var pinned = await fixture.VerifyWithCliAsync(fixture.FederatedBundle, "--registry", elsewhere);
        Assert.Equal(1, pinned.ExitCode);
        Assert.Contains("FAIL registry-code:", pinned.Stdout, StringComparison.Ordinal);
        var pinnedJs = await fixture.VerifyWithJavaScriptAsync(fixture.FederatedBundle, "--registry", elsewhere);
        Assert.Equal(1, pinnedJs.ExitCode);

        Assert.Equal(2, (await fixture.VerifyWithCliAsync(Path.Combine(fixture.Scratch, "missing.json"))).ExitCode);
        Assert.Equal(2, (await new CliRunner().RunAsync("proof", "verify", fixture.FederatedBundle)).ExitCode);
        Assert.Equal(2, (await new CliRunner().RunAsync("proof", "verify", fixture.FederatedBundle, "--rpc-url", "ftp://127.0.0.1/")).ExitCode);
        Assert.Equal(2, (await fixture.VerifyWithJavaScriptAsync(Path.Combine(fixture.Scratch, "missing.json"))).ExitCode);

        // Export refuses a round that is not finalized and writes nothing.
        var target = Path.Combine(fixture.Scratch, "never.json");
        var refused = await fixture.Cli.RunAsync("proof", "export", "--job", fixture.FederatedJob, "--round", "9", "--out", target);
        Assert.Equal(1, refused.ExitCode);
        Assert.False(File.Exists(target));
    }

    [Fact]
    public async Task AfterTheValidatorSetRotates_AnOlderRoundStillHolds_AgainstTheSetInForceAtItsBlock()
    {
        var proof = RoundProofJson.Parse(File.ReadAllBytes(fixture.FederatedBundle));
        var validators = await fixture.Cli.JsonAsync("chain", "validators");
        var members = validators.GetProperty("validators").EnumerateArray().ToList();

        // The new set leaves out a validator that signed the round: checked against today's set, its signature would not count.
        var signer = proof.Validators[0].Address;
        var kept = members.Where(m => !string.Equals(m.GetProperty("address").GetString(), signer, StringComparison.OrdinalIgnoreCase))
            .Select(m => m.GetProperty("vPodId").GetString()!).ToList();
        Assert.Equal(2, kept.Count);
        await fixture.Cli.JsonAsync(["chain", "rotate", "--threshold", "2", .. kept.SelectMany(v => new[] { "--validator", v })]);

        var dotnet = await fixture.VerifyWithCliAsync(fixture.FederatedBundle);
        Assert.True(dotnet.ExitCode == 0, dotnet.ToString());
        Assert.Contains("ok   validator-set: set 1 ", dotnet.Stdout, StringComparison.Ordinal);
        var javaScript = await fixture.VerifyWithJavaScriptAsync(fixture.FederatedBundle);
        Assert.True(javaScript.ExitCode == 0, javaScript.ToString());
    }

    private static void Apply(string change, JsonObject json)
    {
        var receipts = json["receipts"]!.AsArray();
        var validators = json["validators"]!.AsArray();
        switch (change)
        {
            case "unknown-member":
                json["comment"] = "trust me";
                break;
            case "unknown-receipt-member":
                receipts[0]!["weight"] = "1";
                break;
            case "upper-case-hex":
                json["resultHash"] = "0x" + json["resultHash"]!.GetValue<string>()[2..].ToUpperInvariant().Replace('0', 'A');
                break;
            case "chain-id":
                json["chainId"] = "31338";
                break;
            case "registry":
                json["registry"] = Digit(json["registry"]!, ^1);
                break;
            case "transaction-hash":
                json["transaction"]!["hash"] = Digit(json["transaction"]!["hash"]!, ^1);
                break;
            case "block-number":
                json["transaction"]!["blockNumber"] = (long.Parse(json["transaction"]!["blockNumber"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture) - 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
                break;
            case "block-hash":
                json["transaction"]!["blockHash"] = Digit(json["transaction"]!["blockHash"]!, ^1);
                break;
            case "job":
                json["job"] = json["job"]!.GetValue<string>() + "x";
                break;
            case "round":
                json["round"] = json["round"]!.GetValue<long>() - 1;
                break;
            case "result-hash":
                json["resultHash"] = Digit(json["resultHash"]!, ^1);
                break;
            case "receipts-root":
                json["receiptsRoot"] = Digit(json["receiptsRoot"]!, ^1);
                break;
            case "model-ref":
                json["modelRef"] = Digit(json["modelRef"]!, ^1);
                break;
            case "model-cid":
                json["modelCid"] = UnixFsFile.ComputeCid("another model"u8).ToString();
                break;
            case "validator-signature-digit":
                validators[0]!["signature"] = Digit(validators[0]!["signature"]!, 70);
                break;
            case "validator-high-s":
                validators[0]!["signature"] = MalleableTwin(validators[0]!["signature"]!);
                break;
            case "validator-v":
                validators[0]!["signature"] = validators[0]!["signature"]!.GetValue<string>()[..^2] + "1d";
                break;
            case "receipt-high-s":
                receipts[0]!["signature"] = MalleableTwin(receipts[0]!["signature"]!);
                break;
            case "validator-address":
                validators[0]!["address"] = Digit(validators[0]!["address"]!, ^1);
                break;
            case "below-threshold":
                while (validators.Count > 1)
                {
                    validators.RemoveAt(validators.Count - 1);
                }

                break;
            case "outsider-signature":
                ReplaceWithOutsider(json, validators);
                break;
            case "receipt-sample-count":
                receipts[0]!["sampleCount"] = (long.Parse(receipts[0]!["sampleCount"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
                break;
            case "receipt-update-hash":
                receipts[0]!["updateHash"] = Digit(receipts[0]!["updateHash"]!, ^1);
                break;
            case "receipt-signature":
                receipts[0]!["signature"] = Digit(receipts[0]!["signature"]!, 70);
                break;
            case "receipt-address":
                receipts[0]!["address"] = Digit(receipts[0]!["address"]!, ^1);
                break;
            case "receipt-vpod":
                receipts[0]!["vpod"] = receipts[0]!["vpod"]!.GetValue<string>() + "0";
                break;
            case "branch":
                var branch = receipts[0]!["branch"]!.AsArray();
                branch[0] = Digit(branch[0]!, ^1);
                break;
            case "receipt-left-out":
                receipts.RemoveAt(receipts.Count - 1);
                break;
            case "model-byte":
                var car = Convert.FromBase64String(json["model"]!["car"]!.GetValue<string>());
                car[^1] ^= 0x01;
                json["model"]!["car"] = Convert.ToBase64String(car);
                break;
            case "model-other-file":
                json["model"]!["car"] = Convert.ToBase64String(OtherCar());
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(change), change, "no such change");
        }
    }

    /// <summary>The hex text with one digit changed (0-9a-f, another value), at <paramref name="index"/>.</summary>
    private static string Digit(JsonNode node, Index index)
    {
        var text = node.GetValue<string>().ToCharArray();
        var at = index.GetOffset(text.Length);
        text[at] = text[at] == '0' ? '1' : '0';
        return new string(text);
    }

    /// <summary>The same signer's other valid signature over the same digest: s' = n − s and the other v (what EIP-2 refuses).</summary>
    private static string MalleableTwin(JsonNode node)
    {
        var bytes = Convert.FromHexString(node.GetValue<string>()[2..]);
        var order = System.Numerics.BigInteger.Parse("0FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", System.Globalization.NumberStyles.HexNumber);
        var s = new System.Numerics.BigInteger(bytes.AsSpan(32, 32), isUnsigned: true, isBigEndian: true);
        var twin = (order - s).ToByteArray(isUnsigned: true, isBigEndian: true);
        var result = new byte[65];
        bytes.AsSpan(0, 32).CopyTo(result);
        twin.CopyTo(result, 64 - twin.Length);
        result[64] = (byte)(bytes[64] == 27 ? 28 : 27);
        return "0x" + Convert.ToHexStringLower(result);
    }

    /// <summary>Swaps the first validator's signature for a valid one over the right digest by a key outside the set.</summary>
    private static void ReplaceWithOutsider(JsonObject json, JsonArray validators)
    {
        var round = new RoundResult
        {
            JobId = json["job"]!.GetValue<string>(),
            Round = json["round"]!.GetValue<long>(),
            ResultHash = json["resultHash"]!.GetValue<string>(),
            ReceiptsRoot = json["receiptsRoot"]!.GetValue<string>(),
            ModelRef = json["modelRef"]!.GetValue<string>(),
            ModelCid = json["modelCid"]!.GetValue<string>(),
        };
        var domain = new RegistryDomain(long.Parse(json["chainId"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture), json["registry"]!.GetValue<string>());
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var outsider = new JsonObject
        {
            ["address"] = EthereumSignatures.AddressOf(key),
            ["signature"] = RegistryTypedData.Sign(key, RegistryTypedData.FinalizeDigest(domain, round)).ToLowerInvariant(),
        };
        var entries = validators.Skip(1).Select(v => v!.DeepClone()).Append(outsider)
            .OrderBy(v => v!["address"]!.GetValue<string>(), StringComparer.Ordinal).ToList();
        validators.Clear();
        foreach (var entry in entries)
        {
            validators.Add(entry);
        }
    }

    /// <summary>A well-formed CAR of another file, rooted at that file's CID.</summary>
    private static byte[] OtherCar()
    {
        var blocks = UnixFsFile.Import("not the model"u8);
        using var car = new MemoryStream();
        Car.WriteHeaderAsync(car, [blocks[^1].Cid]).GetAwaiter().GetResult();
        foreach (var block in blocks)
        {
            Car.WriteBlockAsync(car, block).GetAwaiter().GetResult();
        }

        return car.ToArray();
    }
}
