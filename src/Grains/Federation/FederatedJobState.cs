using MetaNode.Federation;

namespace MetaNode.Grains.Federation;

/// <summary>Everything a job needs to resume after a silo loss; written before each step acts outward.</summary>
[GenerateSerializer, Alias("MetaNode.Federation.FederatedJobState")]
public sealed class FederatedJobState
{
    [Id(0)] public FederatedJobSpec? Spec { get; set; }
    [Id(1)] public FederatedJobPhase Phase { get; set; }
    [Id(2)] public int Round { get; set; }
    [Id(3)] public List<string> ComputeVPods { get; set; } = [];
    [Id(4)] public List<string> ValidatorVPods { get; set; } = [];
    /// <summary>vPod id → the address its workload proved when the job started.</summary>
    [Id(5)] public Dictionary<string, string> Addresses { get; set; } = [];
    [Id(6)] public Standardization? Standardization { get; set; }
    /// <summary>The global model of the current round, canonical encoding.</summary>
    [Id(7)] public byte[]? GlobalModel { get; set; }
    /// <summary>The current round's updates by vPod.</summary>
    [Id(8)] public Dictionary<string, FederatedUpdateEvent> Updates { get; set; } = [];
    [Id(9)] public DateTimeOffset? RoundStartedAt { get; set; }
    [Id(10)] public DateTimeOffset? Deadline { get; set; }
    /// <summary>The participant set the round closed with (sorted).</summary>
    [Id(11)] public List<string> Closed { get; set; } = [];
    [Id(12)] public List<ValidatorVote> Votes { get; set; } = [];
    /// <summary>The finalized rounds not yet moved to the job's history (at least the last one, once a round is finalized).</summary>
    [Id(13)] public List<RoundResult> Results { get; set; } = [];
    [Id(14)] public List<RoundTimings> Timings { get; set; } = [];
    [Id(15)] public string? Reason { get; set; }
    [Id(16)] public DateTimeOffset CreatedAt { get; set; }
    [Id(17)] public DateTimeOffset UpdatedAt { get; set; }
    // Id 18 held every round's model; models now live in the model store (IFederatedModelGrain) under their reference.
    [Id(19)] public double DispatchMs { get; set; }
    [Id(20)] public DateTimeOffset? ClosedAt { get; set; }
    [Id(21)] public double AggregationMs { get; set; }
    [Id(22)] public List<string> Disagreeing { get; set; } = [];
    /// <summary>Compute vPod id → the rows the job placed with it (the weight, and the count its receipts must carry).</summary>
    [Id(23)] public Dictionary<string, long> AssignedSamples { get; set; } = [];
    /// <summary>The chain id receipts are signed for, fixed when the data is placed.</summary>
    [Id(24)] public long ChainId { get; set; }
    /// <summary>The current round's updates the job refused (vPod → why): flagged in the round's result.</summary>
    [Id(25)] public Dictionary<string, string> Refused { get; set; } = [];
    /// <summary>Secure aggregation: the threshold t the job runs with (the spec's, or a majority of its compute vPods).</summary>
    [Id(26)] public int SecurityThreshold { get; set; }
    /// <summary>Secure aggregation: the current round's transcript (<see cref="SecureTranscript"/>, UTF-8 JSON), written after each stage.</summary>
    [Id(27)] public byte[]? SecureTranscript { get; set; }
    /// <summary>The server optimizer's state after the last finalized round (canonical encoding, signed by the round's quorum); null: zeros.</summary>
    [Id(28)] public byte[]? OptimizerState { get; set; }
    /// <summary>
    /// How many pages of finalized rounds were moved to the job's history (<see cref="IFederatedJobHistoryGrain"/>, pages 0 to this − 1);
    /// <see cref="Results"/> and <see cref="Timings"/> hold the rounds after them.
    /// </summary>
    [Id(29)] public int HistoryPages { get; set; }
}
