using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Jobs;

/// <summary>The job's persisted state, stream events and grain-call contracts survive Orleans serialization and deep copy.</summary>
public sealed class FederatedJobSerializationTests
{
    private static readonly FederatedModel Model = new(2, 2, [0.5, -1.25, 3, 4e-9, 0.1, -0.2]);

    private static T RoundTrip<T>(T value) => OrleansRoundTrip.Of(value);

    [Fact]
    public void FederatedUpdateEvent_RoundTrips_WithItsEventIdAndModelBytes()
    {
        var update = new FederatedUpdateEvent
        {
            Update = new ModelUpdate(new TrainingReceipt("job-1", 3, "vpod-c-0", 144, ModelEncoding.HashHex(Model), "0xabcd"), Model, new TrainingMetrics(0.3, 0.9, 45, 12.5)),
            PublishedAt = new DateTimeOffset(2026, 11, 30, 1, 2, 3, TimeSpan.Zero),
            TrainingMs = 12.5,
        };

        var back = RoundTrip(update);

        Assert.Equal("job-1/3/vpod-c-0", back.EventId);
        Assert.Equal(ModelEncoding.Encode(Model), ModelEncoding.Encode(back.Update.Model));
        Assert.Equal(update.Update.Receipt, back.Update.Receipt);
        Assert.Equal(update.PublishedAt, back.PublishedAt);
    }

    [Fact]
    public void FederatedJobState_RoundTrips_WithEveryField()
    {
        var state = new FederatedJobState
        {
            Spec = FederatedJobTests.Spec(rounds: 4, minParticipants: 3) with { Robust = AggregationRule.TrimmedMean(0.1) },
            Phase = FederatedJobPhase.Aggregating,
            Round = 2,
            ComputeVPods = ["vpod-c-0", "vpod-c-1"],
            ValidatorVPods = ["vpod-v-0"],
            Addresses = new Dictionary<string, string> { ["vpod-c-0"] = "0x" + new string('1', 40) },
            Standardization = new Standardization([1, 2], [0.5, 0.25]),
            GlobalModel = ModelEncoding.Encode(Model),
            Closed = ["vpod-c-0"],
            Votes = [new ValidatorVote { ValidatorVPodId = "vpod-v-0", Signer = "0x1", Signature = "0x2", ResultHash = "0x3", ReceiptsRoot = "0x4", ModelRef = "0x5", Model = [1, 2, 3] }],
            Results = [new RoundResult { Job = "job-1", Round = 1, ResultHash = "0x3", TxHash = "0x9", Validators = ["vpod-v-0"], Accuracy = 0.9 }],
            Timings = [new RoundTimings { Round = 1, TotalMs = 900, SlowestTrainingMs = 700, GasUsed = 72_000 }],
            Deadline = new DateTimeOffset(2026, 11, 30, 1, 0, 0, TimeSpan.Zero),
        };

        var back = RoundTrip(state);

        Assert.Equal(state.Spec, back.Spec);
        Assert.Equal(state.Phase, back.Phase);
        Assert.Equal(state.ComputeVPods, back.ComputeVPods);
        Assert.Equal(state.Addresses, back.Addresses);
        Assert.Equal(state.Standardization.Scale, back.Standardization!.Scale);
        Assert.Equal(state.GlobalModel, back.GlobalModel);
        Assert.Equal(state.Votes[0].Model, back.Votes[0].Model);
        Assert.Equal("0x5", back.Votes[0].ModelRef);
        Assert.Equal("0x9", back.Results[0].TxHash);
        Assert.Equal(state.Timings, back.Timings);
        Assert.Equal(200, back.Timings[0].OverheadMs);
        Assert.Equal(state.Deadline, back.Deadline);
    }

    [Fact]
    public void AssignmentsClosingAndStatus_RoundTrip()
    {
        var assignment = new ValidatorAssignment { JobId = "job-1", ValidatorVPodId = "vpod-v-0", ComputeAddresses = new Dictionary<string, string> { ["a"] = "0x1" }, Aggregation = AggregationRule.Median };
        Assert.Equal(assignment.ComputeAddresses, RoundTrip(assignment).ComputeAddresses);
        Assert.Equal(AggregationRule.Median, RoundTrip(assignment).Aggregation);

        var training = new TrainingAssignment { JobId = "job-1", Round = 2, Global = Model, LocalEpochs = 5, BatchSize = 16, LearningRate = 0.1, Seed = 9 };
        Assert.Equal(Model.Parameters, RoundTrip(training).Global.Parameters);

        var closing = new RoundClosing { JobId = "job-1", Round = 2, Participants = ["a", "b"], Global = Model, MinParticipants = 2 };
        Assert.Equal(closing.Participants, RoundTrip(closing).Participants);

        var status = new FederatedJobStatus { JobId = "job-1", Phase = FederatedJobPhase.Completed, Results = [new RoundResult { Job = "job-1", Round = 1, Accuracy = 0.96 }] };
        Assert.Equal(0.96, RoundTrip(status).FinalAccuracy);
        var summary = new FederatedJobSummary { JobId = "job-1", Phase = FederatedJobPhase.Training, Round = 1, Rounds = 3 };
        Assert.Equal(summary, RoundTrip(summary));
        Assert.Equal("job-1", RoundTrip(new JobNotFoundException("job-1")).JobId);
    }
}
