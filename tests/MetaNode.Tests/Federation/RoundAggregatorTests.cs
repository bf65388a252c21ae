using MetaNode.Chain;
using MetaNode.Federation;

namespace MetaNode.Tests.Federation;

/// <summary>The validator's verify-then-aggregate over receipts signed by real secp256k1 keys under the vPod EIP-712 domain.</summary>
public sealed class RoundAggregatorTests
{
    private const long ChainId = 31337;
    private static readonly FederatedModel Global = FederatedModel.Zero(2, 2);

    private static byte[] KeyOf(string vpod) => FederationHashing.Keccak256(System.Text.Encoding.UTF8.GetBytes("test key " + vpod));

    private static ModelUpdate Update(string vpod, long samples, double value, string job = "job-1", int round = 1, string? signer = null)
    {
        var model = new FederatedModel(2, 2, [.. Enumerable.Range(0, 6).Select(i => value + i * 0.01)]);
        var receipt = new TrainingReceipt(job, round, vpod, samples, ModelEncoding.HashHex(model));
        var signature = EthereumSignatures.Sign(KeyOf(signer ?? vpod), VPodTypedData.ReceiptDigest(receipt, ChainId));
        return new ModelUpdate(receipt with { Signature = FederationHashing.ToHex(signature) }, model);
    }

    private static RoundParticipant Participant(string vpod, long assigned) => new(vpod, EthereumSignatures.AddressOf(KeyOf(vpod)), assigned);

    private static RoundFacts Facts(AggregationRule rule, int round = 1, params (string VPod, long Assigned)[] participants) =>
        new("job-1", round, ChainId, Global, rule, participants.Select(p => Participant(p.VPod, p.Assigned)).ToList());

    [Fact]
    public void Aggregate_GivesTheSameHashAndRoot_WhenUpdatesArriveInAnyOrderWithDuplicates()
    {
        var updates = new[] { Update("vpod-c", 30, 0.3), Update("vpod-a", 10, 0.1), Update("vpod-b", 20, 0.2) };
        var facts = Facts(AggregationRule.FederatedAverage, 1, ("vpod-a", 10), ("vpod-b", 20), ("vpod-c", 30));

        var first = RoundAggregator.Aggregate(facts, updates);
        var second = RoundAggregator.Aggregate(facts, [updates[1], updates[2], updates[0], updates[2], updates[1]]);

        Assert.True(first.Succeeded);
        Assert.Equal(first.ModelHash, second.ModelHash);
        Assert.Equal(first.ReceiptsRoot, second.ReceiptsRoot);
        Assert.Equal(["vpod-a", "vpod-b", "vpod-c"], second.Participants);
        Assert.Equal(60, second.TotalSamples);
        Assert.Empty(second.Rejected);
        Assert.Equal(ReceiptMerkleTree.RootHex(updates.Select(u => ReceiptHashing.HashHex(u.Receipt))), first.ReceiptsRoot);
        Assert.Equal(ModelEncoding.HashHex(ModelAggregation.FederatedAverage(updates.Select(u => new WeightedModel(u.Receipt.VPodId, u.Receipt.SampleCount, u.Model)).ToList())), first.ModelHash);
    }

    [Fact]
    public void Aggregate_KeepsTheRest_WhenUpdatesHaveWrongHashJobRoundShapeOrSignature()
    {
        var good = Update("vpod-a", 10, 0.1);
        var wrongHash = Update("vpod-b", 10, 0.2) with { Receipt = Update("vpod-b", 10, 0.9).Receipt };
        var wrongRound = Update("vpod-c", 10, 0.3, round: 2);
        var shape = FederatedModel.Zero(3, 2);
        var wrongShapeReceipt = new TrainingReceipt("job-1", 1, "vpod-d", 5, ModelEncoding.HashHex(shape));
        var wrongShape = new ModelUpdate(wrongShapeReceipt with { Signature = FederationHashing.ToHex(EthereumSignatures.Sign(KeyOf("vpod-d"), VPodTypedData.ReceiptDigest(wrongShapeReceipt, ChainId))) }, shape);
        var signedByAnother = Update("vpod-e", 10, 0.5, signer: "vpod-intruder");
        var conflicting = new[] { Update("vpod-f", 10, 0.6), Update("vpod-f", 10, 0.7) };
        var facts = Facts(AggregationRule.FederatedAverage, 1, ("vpod-a", 10), ("vpod-b", 10), ("vpod-c", 10), ("vpod-d", 5), ("vpod-e", 10), ("vpod-f", 10));

        var aggregate = RoundAggregator.Aggregate(facts, [good, wrongHash, wrongRound, wrongShape, signedByAnother, .. conflicting]);

        Assert.Equal(["vpod-a"], aggregate.Participants);
        Assert.Equal(good.Model.Parameters, aggregate.Model!.Parameters, (a, b) => Math.Abs(a - b) < 1e-15);
        Assert.Equal(["vpod-b", "vpod-c", "vpod-d", "vpod-e", "vpod-f"], aggregate.Rejected.Select(r => r.VPodId));
        Assert.Contains("update hash", aggregate.Rejected[0].Reason);
        Assert.Contains("round 2", aggregate.Rejected[1].Reason);
        Assert.Contains("3×2", aggregate.Rejected[2].Reason);
        Assert.Contains("signature", aggregate.Rejected[3].Reason);
        Assert.Contains("different updates", aggregate.Rejected[4].Reason);
    }

    [Fact]
    public void Aggregate_RejectsAndFlagsAnInflatedSampleCount_AndWeighsByTheAssignedCounts()
    {
        // vPod-b signed a receipt claiming 10^12 samples; the job placed 20 rows with it.
        var updates = new[] { Update("vpod-a", 10, 0.1), Update("vpod-b", 1_000_000_000_000, 0.9), Update("vpod-c", 30, 0.3) };

        var aggregate = RoundAggregator.Aggregate(Facts(AggregationRule.FederatedAverage, 1, ("vpod-a", 10), ("vpod-b", 20), ("vpod-c", 30)), updates);

        var rejected = Assert.Single(aggregate.Rejected);
        Assert.Equal("vpod-b", rejected.VPodId);
        Assert.Contains("1000000000000 samples", rejected.Reason);
        Assert.Equal(["vpod-a", "vpod-c"], aggregate.Participants);
        Assert.Equal(40, aggregate.TotalSamples);
        Assert.Equal((10 * 0.1 + 30 * 0.3) / 40, aggregate.Model!.Parameters[0], 12);
    }

    [Fact]
    public void Aggregate_CountsTheRealUpdate_WhenAForgedCopyArrivesFirst()
    {
        var real = Update("vpod-a", 10, 0.1);
        var forgedModel = new FederatedModel(2, 2, [.. real.Model.Parameters.Select(p => p * 3)]);
        var forged = new ModelUpdate(real.Receipt with { UpdateHash = ModelEncoding.HashHex(forgedModel) }, forgedModel);
        var facts = Facts(AggregationRule.FederatedAverage, 1, ("vpod-a", 10), ("vpod-b", 20));

        var aggregate = RoundAggregator.Aggregate(facts, [forged, forged, real, Update("vpod-b", 20, 0.2)]);
        var withoutForgery = RoundAggregator.Aggregate(facts, [real, Update("vpod-b", 20, 0.2)]);

        Assert.Equal(["vpod-a", "vpod-b"], aggregate.Participants);
        Assert.Empty(aggregate.Rejected);
        Assert.Equal(withoutForgery.ModelHash, aggregate.ModelHash);
    }

    [Fact]
    public void Aggregate_RejectsAnUpdateFromOutsideTheParticipants_AndAReceiptSignedOnAnotherChain()
    {
        var outsider = Update("vpod-z", 10, 0.5);
        var otherChain = Update("vpod-a", 10, 0.1);
        var receipt = otherChain.Receipt with { Signature = FederationHashing.ToHex(EthereumSignatures.Sign(KeyOf("vpod-a"), VPodTypedData.ReceiptDigest(otherChain.Receipt with { Signature = null }, 1))) };

        var aggregate = RoundAggregator.Aggregate(Facts(AggregationRule.FederatedAverage, 1, ("vpod-a", 10), ("vpod-b", 20)), [outsider, otherChain with { Receipt = receipt }, Update("vpod-b", 20, 0.2)]);

        Assert.Equal(["vpod-b"], aggregate.Participants);
        Assert.Equal(["vpod-a", "vpod-z"], aggregate.Rejected.Select(r => r.VPodId));
    }

    [Theory]
    [InlineData("median")]
    [InlineData("trimmed-mean:0.2")]
    public void Aggregate_RejectsAPoisonedUpdate_WhenARobustRuleIsChosen(string robust)
    {
        var honest = Enumerable.Range(0, 5).Select(i => Update($"vpod-{i}", 10 + i, 0.1 * (i + 1))).ToList();
        var poisoned = Update("vpod-x", 1000, 1e4);
        (string, long)[] participants = [.. honest.Select(u => (u.Receipt.VPodId, u.Receipt.SampleCount)), ("vpod-x", 1000)];

        var aggregate = RoundAggregator.Aggregate(Facts(AggregationRule.Parse(robust), 1, participants), [.. honest, poisoned]);
        var naive = RoundAggregator.Aggregate(Facts(AggregationRule.FederatedAverage, 1, participants), [.. honest, poisoned]);

        Assert.Equal("vpod-x", Assert.Single(aggregate.Rejected).VPodId);
        Assert.DoesNotContain("vpod-x", aggregate.Participants);
        Assert.All(aggregate.Model!.Parameters, p => Assert.InRange(p, 0, 1));
        Assert.Contains("vpod-x", naive.Participants);
        Assert.True(naive.Model!.Parameters[0] > 1000);
    }

    [Fact]
    public void Aggregate_FailsWithoutAModel_WhenFewerThanTheMinimumAreAccepted()
    {
        var aggregate = RoundAggregator.Aggregate(Facts(AggregationRule.FederatedAverage, 1, ("vpod-a", 10), ("vpod-b", 10)), [Update("vpod-a", 10, 0.1), Update("vpod-b", 10, 0.2, job: "other")], minParticipants: 2);

        Assert.False(aggregate.Succeeded);
        Assert.Empty(aggregate.Participants);
        Assert.Equal("vpod-b", Assert.Single(aggregate.Rejected).VPodId);
    }

    [Fact]
    public void ToRoundResult_CarriesTheAggregationFields_WhenTheRoundAggregated()
    {
        var aggregate = RoundAggregator.Aggregate(Facts(AggregationRule.Median, 4, ("vpod-a", 10)), [Update("vpod-a", 10, 0.1, round: 4)]);

        var result = aggregate.ToRoundResult();

        Assert.Equal(("job-1", 4, aggregate.ModelHash, aggregate.ReceiptsRoot, 10L), (result.Job, result.Round, result.ResultHash, result.ReceiptsRoot, result.TotalSamples));
        Assert.Equal(AggregationRule.Median, result.Aggregation);
    }

    [Fact]
    public void IdentitySignature_IsNoReceiptSignature_WhenTheNonceIsTheHashOfAForgedReceipt()
    {
        // A hostile silo picks as identity nonce the struct hash of a receipt it forged; the workload's identity signature must
        // not verify as that receipt's signature (each type has its own type hash, and the digest binds the type).
        var key = KeyOf("vpod-a");
        var forged = new TrainingReceipt("job-1", 1, "vpod-a", 1_000_000, ModelEncoding.HashHex(Global));
        foreach (var nonce in new[] { ReceiptHashing.Hash(forged), VPodTypedData.ReceiptDigest(forged, ChainId) })
        {
            var identity = FederationHashing.ToHex(EthereumSignatures.Sign(key, VPodTypedData.IdentityDigest("vpod-a", nonce, ChainId)));
            Assert.Equal(EthereumSignatures.AddressOf(key), VPodTypedData.RecoverIdentity("vpod-a", nonce, ChainId, identity));
            Assert.False(VPodTypedData.ReceiptSignedBy(forged with { Signature = identity }, ChainId, EthereumSignatures.AddressOf(key)));
        }
    }
}
