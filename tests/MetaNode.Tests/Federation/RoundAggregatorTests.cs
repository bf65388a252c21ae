using MetaNode.Federation;
using MetaNode.Grains.Federation;

namespace MetaNode.Tests.Federation;

public sealed class RoundAggregatorTests
{
    private static readonly FederatedModel Global = FederatedModel.Zero(2, 2);

    private static ModelUpdate Update(string vpod, long samples, double value, string job = "job-1", int round = 1)
    {
        var model = new FederatedModel(2, 2, [.. Enumerable.Range(0, 6).Select(i => value + i * 0.01)]);
        return new ModelUpdate(new TrainingReceipt(job, round, vpod, samples, ModelEncoding.HashHex(model)), model);
    }

    [Fact]
    public void Aggregate_GivesTheSameHashAndRoot_WhenUpdatesArriveInAnyOrderWithDuplicates()
    {
        var updates = new[] { Update("vpod-c", 30, 0.3), Update("vpod-a", 10, 0.1), Update("vpod-b", 20, 0.2) };

        var first = RoundAggregator.Aggregate("job-1", 1, Global, updates, AggregationRule.FederatedAverage);
        var second = RoundAggregator.Aggregate("job-1", 1, Global, [updates[1], updates[2], updates[0], updates[2], updates[1] with { Receipt = updates[1].Receipt with { Signature = "0x01" } }], AggregationRule.FederatedAverage);

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
        var wrongShape = new ModelUpdate(new TrainingReceipt("job-1", 1, "vpod-d", 5, ModelEncoding.HashHex(FederatedModel.Zero(3, 2))), FederatedModel.Zero(3, 2));
        var unsigned = Update("vpod-e", 10, 0.5);
        var conflicting = new[] { Update("vpod-f", 10, 0.6), Update("vpod-f", 10, 0.7) };

        var aggregate = RoundAggregator.Aggregate(
            "job-1", 1, Global, [good, wrongHash, wrongRound, wrongShape, unsigned, .. conflicting], AggregationRule.FederatedAverage,
            verifySignature: receipt => receipt.VPodId != "vpod-e");

        Assert.Equal(["vpod-a"], aggregate.Participants);
        Assert.Equal(good.Model.Parameters, aggregate.Model!.Parameters, (a, b) => Math.Abs(a - b) < 1e-15);
        Assert.Equal(["vpod-b", "vpod-c", "vpod-d", "vpod-e", "vpod-f"], aggregate.Rejected.Select(r => r.VPodId));
        Assert.Contains("update hash", aggregate.Rejected[0].Reason);
        Assert.Contains("round 2", aggregate.Rejected[1].Reason);
        Assert.Contains("3×2", aggregate.Rejected[2].Reason);
        Assert.Contains("signature", aggregate.Rejected[3].Reason);
        Assert.Contains("different updates", aggregate.Rejected[4].Reason);
    }

    [Theory]
    [InlineData("median")]
    [InlineData("trimmed-mean:0.2")]
    public void Aggregate_RejectsAPoisonedUpdate_WhenARobustRuleIsChosen(string robust)
    {
        var honest = Enumerable.Range(0, 5).Select(i => Update($"vpod-{i}", 10 + i, 0.1 * (i + 1))).ToList();
        var poisoned = Update("vpod-x", 1000, 1e4);

        var aggregate = RoundAggregator.Aggregate("job-1", 1, Global, [.. honest, poisoned], AggregationRule.Parse(robust));
        var naive = RoundAggregator.Aggregate("job-1", 1, Global, [.. honest, poisoned], AggregationRule.FederatedAverage);

        Assert.Equal("vpod-x", Assert.Single(aggregate.Rejected).VPodId);
        Assert.DoesNotContain("vpod-x", aggregate.Participants);
        Assert.All(aggregate.Model!.Parameters, p => Assert.InRange(p, 0, 1));
        Assert.Contains("vpod-x", naive.Participants);
        Assert.True(naive.Model!.Parameters[0] > 1000);
    }

    [Fact]
    public void Aggregate_FailsWithoutAModel_WhenFewerThanTheMinimumAreAccepted()
    {
        var aggregate = RoundAggregator.Aggregate("job-1", 1, Global, [Update("vpod-a", 10, 0.1), Update("vpod-b", 10, 0.2, job: "other")], AggregationRule.FederatedAverage, minParticipants: 2);

        Assert.False(aggregate.Succeeded);
        Assert.Empty(aggregate.Participants);
        Assert.Equal("vpod-b", Assert.Single(aggregate.Rejected).VPodId);
    }

    [Fact]
    public void ToRoundResult_CarriesTheAggregationFields_WhenTheRoundAggregated()
    {
        var aggregate = RoundAggregator.Aggregate("job-1", 4, Global, [Update("vpod-a", 10, 0.1, round: 4)], AggregationRule.Median);

        var result = aggregate.ToRoundResult();

        Assert.Equal(("job-1", 4, aggregate.ModelHash, aggregate.ReceiptsRoot, 10L), (result.Job, result.Round, result.ResultHash, result.ReceiptsRoot, result.TotalSamples));
        Assert.Equal(AggregationRule.Median, result.Aggregation);
    }
}
