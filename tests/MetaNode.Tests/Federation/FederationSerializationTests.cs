using MetaNode.Federation;
using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Federation;

/// <summary>Federation contracts survive Orleans serialization and deep copy unchanged.</summary>
public sealed class FederationSerializationTests
{
    private static T RoundTrip<T>(T value) => OrleansRoundTrip.Of(value);

    [Fact]
    public void ModelUpdate_RoundTripsWithItsModelBytesAndReceipt_WhenSerialized()
    {
        var model = new FederatedModel(2, 3, [1, 2, 3, 4, 5, 6, 7, 8]);
        var update = new ModelUpdate(new TrainingReceipt("job", 2, "vpod-a", 40, ModelEncoding.HashHex(model), "0xabc"), model, new TrainingMetrics(0.5, 0.9, 12, 3.5));

        var back = RoundTrip(update);

        Assert.Equal(update.Receipt, back.Receipt);
        Assert.Equal(update.Metrics, back.Metrics);
        Assert.Equal(ModelEncoding.Encode(model), ModelEncoding.Encode(back.Model));
        Assert.Equal("job/2/vpod-a", back.EventId);
    }

    [Fact]
    public void JobSpecAndRoundResult_RoundTrip_WhenSerialized()
    {
        var spec = new FederatedJobSpec
        {
            ComputeCluster = "c",
            ValidatorCluster = "v",
            Dataset = "digits",
            Partition = PartitionScheme.Dirichlet(0.3),
            Robust = AggregationRule.TrimmedMean(0.2),
            RoundDeadline = TimeSpan.FromSeconds(12),
            Seed = 99,
        };
        var result = new RoundResult
        {
            Job = "job",
            Round = 3,
            Participants = ["a", "b"],
            TotalSamples = 100,
            ResultHash = "0x01",
            ReceiptsRoot = "0x02",
            Aggregation = AggregationRule.Median,
            Rejected = [new RejectedUpdate("x", "too far")],
            Accuracy = 0.95,
            Loss = 0.2,
            ModelRef = "0x04",
            ModelCid = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
            TxHash = "0x03",
            Validators = ["v1", "v2"],
            DisagreeingValidators = ["v3"],
        };

        var specBack = RoundTrip(spec);
        var resultBack = RoundTrip(result);

        Assert.Equal(spec, specBack);
        Assert.Equal(result.Participants, resultBack.Participants);
        Assert.Equal(result.Rejected, resultBack.Rejected);
        Assert.Equal(result.Validators, resultBack.Validators);
        Assert.Equal(result.DisagreeingValidators, resultBack.DisagreeingValidators);
        Assert.Equal((result.ResultHash, result.ReceiptsRoot, result.Aggregation, result.Accuracy, result.TxHash, result.ModelRef, result.ModelCid),
            (resultBack.ResultHash, resultBack.ReceiptsRoot, resultBack.Aggregation, resultBack.Accuracy, resultBack.TxHash, resultBack.ModelRef, resultBack.ModelCid));
    }

    [Fact]
    public void MomentsStandardizationAndExceptions_RoundTrip_WhenSerialized()
    {
        var moments = RoundTrip(new FeatureMoments("vpod-a", 3, [1, 2], [3, 4]));
        var standardization = RoundTrip(new Standardization([0.5], [2]));
        var invalid = RoundTrip(new InvalidJobSpecException(["rounds '0' is invalid"]));
        var workload = RoundTrip(new WorkloadRequestException("http://127.0.0.1:1", "/v1/train", 409, "no data"));

        Assert.Equal([1.0, 2.0], moments.Sum);
        Assert.Equal([3.0, 4.0], moments.SumOfSquares);
        Assert.Equal(3L, moments.Count);
        Assert.Equal([2.0], standardization.Scale);
        Assert.Equal(["rounds '0' is invalid"], invalid.Errors);
        Assert.Equal((409, "no data", "/v1/train"), (workload.StatusCode, workload.Error, workload.Path));
    }
}
