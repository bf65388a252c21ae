namespace MetaNode.Federation;

/// <summary>Where a federated job is: preparing data, then per round dispatching, training, aggregating, finalizing; then a final phase.</summary>
[GenerateSerializer, Alias("MetaNode.Federation.FederatedJobPhase")]
public enum FederatedJobPhase
{
    None = 0,

    /// <summary>Partitioning the data set into the vPods' data directories and standardizing features federatedly.</summary>
    Preparing = 1,

    /// <summary>Sending the global model of the round to the compute vPods.</summary>
    Dispatching = 2,

    /// <summary>Collecting updates until all are in, or the deadline passes with at least the minimum.</summary>
    Training = 3,

    /// <summary>Validators aggregate the closed participant set, evaluate and sign.</summary>
    Aggregating = 4,

    /// <summary>k validators agreed: the round is being finalized on chain.</summary>
    Finalizing = 5,

    Completed = 6,
    Failed = 7,
    Cancelled = 8,
}

/// <summary>Durations of one round's stages, in milliseconds (the benchmark's split).</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Federation.RoundTimings")]
public sealed record RoundTimings
{
    [Id(0)] public int Round { get; init; }
    /// <summary>From the round's start until every training request was sent.</summary>
    [Id(1)] public double DispatchMs { get; init; }
    /// <summary>The slowest compute vPod's training call (its workload's <c>/v1/train</c>, as the vPod measured it).</summary>
    [Id(2)] public double SlowestTrainingMs { get; init; }
    /// <summary>From the round's start until the round closed (all updates in, or the deadline).</summary>
    [Id(3)] public double CollectionMs { get; init; }
    /// <summary>The slowest stream delivery of an update, from publication to a validator receiving it.</summary>
    [Id(4)] public double StreamDeliveryMs { get; init; }
    /// <summary>From closing the round until k validators had signed.</summary>
    [Id(5)] public double AggregationMs { get; init; }
    /// <summary>The on-chain finalization, from submission to the required confirmations.</summary>
    [Id(6)] public double FinalizationMs { get; init; }
    [Id(7)] public double TotalMs { get; init; }
    [Id(8)] public long GasUsed { get; init; }

    /// <summary>Round time not spent training: what the orchestration costs.</summary>
    public double OverheadMs => TotalMs - SlowestTrainingMs;
}

/// <summary>What <c>job status</c> shows.</summary>
[GenerateSerializer, Alias("MetaNode.Federation.FederatedJobStatus")]
public sealed record FederatedJobStatus
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public FederatedJobPhase Phase { get; init; }
    [Id(2)] public FederatedJobSpec? Spec { get; init; }
    /// <summary>The round in progress (or the last one), from 1.</summary>
    [Id(3)] public int Round { get; init; }
    [Id(4)] public int Rounds { get; init; }
    /// <summary>Updates received in the current round.</summary>
    [Id(5)] public int UpdatesIn { get; init; }
    [Id(6)] public int ComputeVPods { get; init; }
    [Id(7)] public IReadOnlyList<string> Validators { get; init; } = [];
    [Id(8)] public string? Reason { get; init; }
    [Id(9)] public IReadOnlyList<RoundResult> Results { get; init; } = [];
    [Id(10)] public IReadOnlyList<RoundTimings> Timings { get; init; } = [];
    [Id(11)] public DateTimeOffset CreatedAt { get; init; }
    [Id(12)] public DateTimeOffset UpdatedAt { get; init; }
    [Id(13)] public DateTimeOffset? RoundDeadline { get; init; }
    /// <summary>The final model's keccak-256 (after the last round).</summary>
    [Id(14)] public string? FinalModelHash { get; init; }
    /// <summary>Secure aggregation: the threshold t the job runs with (0 for federated-average).</summary>
    [Id(15)] public int SecurityThreshold { get; init; }
    /// <summary>The address each of the job's vPods proved it holds the key of (compute and validators), by vPod id: what receipts and votes recover to.</summary>
    [Id(16)] public IReadOnlyDictionary<string, string> Addresses { get; init; } = new Dictionary<string, string>();
    /// <summary>The chain whose domains the job's receipts and votes are signed under (0 before the job started).</summary>
    [Id(17)] public long ChainId { get; init; }

    public bool IsFinished => Phase is FederatedJobPhase.Completed or FederatedJobPhase.Failed or FederatedJobPhase.Cancelled;

    public double? FinalAccuracy => Results.Count > 0 ? Results[^1].Accuracy : null;
}

/// <summary>One line of <c>job list</c>.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Federation.FederatedJobSummary")]
public sealed record FederatedJobSummary
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public FederatedJobPhase Phase { get; init; }
    [Id(2)] public int Round { get; init; }
    [Id(3)] public int Rounds { get; init; }
    [Id(4)] public string? Dataset { get; init; }
    [Id(5)] public double? Accuracy { get; init; }
    [Id(6)] public DateTimeOffset CreatedAt { get; init; }
    [Id(7)] public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>A compute vPod's update as it travels on the job's stream: the update (carrying its receipt), when it was published, and how long training took.</summary>
[GenerateSerializer, Alias("MetaNode.Federation.FederatedUpdateEvent")]
public sealed record FederatedUpdateEvent
{
    [Id(0)] public required ModelUpdate Update { get; init; }
    [Id(1)] public DateTimeOffset PublishedAt { get; init; }
    [Id(2)] public double TrainingMs { get; init; }

    /// <summary><c>job/round/vPod</c>: consumers count an event id once.</summary>
    public string EventId => Update.EventId;
}

/// <summary>What the job asks a compute vPod to do for a round.</summary>
[GenerateSerializer, Alias("MetaNode.Federation.TrainingAssignment")]
public sealed record TrainingAssignment
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public int Round { get; init; }
    [Id(2)] public required FederatedModel Global { get; init; }
    [Id(3)] public Standardization? Standardization { get; init; }
    [Id(4)] public int LocalEpochs { get; init; }
    [Id(5)] public int BatchSize { get; init; }
    [Id(6)] public double LearningRate { get; init; }
    [Id(7)] public ulong Seed { get; init; }
    /// <summary>The chain whose domain the workload signs its receipt under.</summary>
    [Id(8)] public long ChainId { get; init; }
    /// <summary>The rows the job placed with this vPod: the sample count its receipt must carry.</summary>
    [Id(9)] public long AssignedSamples { get; init; }
    /// <summary>FedProx's μ for local training (0: plain SGD).</summary>
    [Id(10)] public double ProximalMu { get; init; }
}

/// <summary>A validator's part in a job: which compute vPods (their admitted addresses and the rows the job placed with each) may send updates, and the standardization.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Federation.ValidatorAssignment")]
public sealed record ValidatorAssignment
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public required string ValidatorVPodId { get; init; }
    /// <summary>Compute vPod id → its key's address (lower case): a receipt must recover to it.</summary>
    [Id(2)] public IReadOnlyDictionary<string, string> ComputeAddresses { get; init; } = new Dictionary<string, string>();
    [Id(3)] public Standardization? Standardization { get; init; }
    [Id(4)] public AggregationRule Aggregation { get; init; } = AggregationRule.FederatedAverage;
    /// <summary>Compute vPod id → the rows the job placed with it: its weight, and the count its receipts must carry.</summary>
    [Id(5)] public IReadOnlyDictionary<string, long> AssignedSamples { get; init; } = new Dictionary<string, long>();
    [Id(6)] public long ChainId { get; init; }
}

/// <summary>The job closes a round: the participant set every validator aggregates, in canonical order, over the same global model.</summary>
[GenerateSerializer, Alias("MetaNode.Federation.RoundClosing")]
public sealed record RoundClosing
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public int Round { get; init; }
    [Id(2)] public IReadOnlyList<string> Participants { get; init; } = [];
    [Id(3)] public required FederatedModel Global { get; init; }
    [Id(4)] public int MinParticipants { get; init; } = 1;
    /// <summary>The registry whose <c>FinalizeRound</c> digest the validators sign.</summary>
    [Id(5)] public string Registry { get; init; } = string.Empty;

    /// <summary>
    /// Participant → the update hash of the copy the job accepted. A validator whose stream copies of a participant include
    /// none with this hash (a forged copy came first and the real one is still on its way) fetches the job's copy.
    /// </summary>
    [Id(6)] public IReadOnlyDictionary<string, string> UpdateHashes { get; init; } = new Dictionary<string, string>();

    /// <summary>The server optimizer the validators apply to the aggregate (null: <c>avg</c>).</summary>
    [Id(7)] public ServerOptimizer? ServerOptimizer { get; init; }

    /// <summary>The optimizer's state after the previous round, canonical encoding (<c>MNS1</c>); null: zeros (the first round).</summary>
    [Id(8)] public byte[]? OptimizerState { get; init; }
}

/// <summary>A validator's answer to a round: what it computed and its EIP-712 signature over it.</summary>
[GenerateSerializer, Alias("MetaNode.Federation.ValidatorVote")]
public sealed record ValidatorVote
{
    [Id(0)] public required string ValidatorVPodId { get; init; }
    [Id(1)] public required string Signer { get; init; }
    [Id(2)] public required string Signature { get; init; }
    [Id(3)] public required string ResultHash { get; init; }
    [Id(4)] public required string ReceiptsRoot { get; init; }
    [Id(5)] public required string ModelRef { get; init; }
    // Ids 6 and 7 held the validator's accuracy and loss: the job now asks for the evaluation (IValidatorWorkerGrain.GetEvaluationAsync) while the round is finalized.
    [Id(8)] public IReadOnlyList<string> Participants { get; init; } = [];
    [Id(9)] public long TotalSamples { get; init; }
    [Id(10)] public IReadOnlyList<RejectedUpdate> Rejected { get; init; } = [];
    /// <summary>The aggregated model's canonical encoding.</summary>
    [Id(11)] public byte[] Model { get; init; } = [];
    // Ids 12-14 held stream counters nothing read; the validator logs what it fetched and the duplicates it ignored.
    [Id(15)] public double SlowestDeliveryMs { get; init; }
    /// <summary>The aggregate evaluated on the validator's held-out split by its workload (null when it holds none).</summary>
    [Id(16)] public RoundEvaluation? Evaluation { get; init; }
    /// <summary>The server optimizer's state after the round (canonical encoding) and its hash; null without a stateful optimizer.</summary>
    [Id(17)] public byte[]? OptimizerState { get; init; }
    [Id(18)] public string? StateHash { get; init; }
    /// <summary>The validator's signature over <c>ServerState(jobId, round, resultHash, stateHash)</c> in the registry's domain.</summary>
    [Id(19)] public string? StateSignature { get; init; }
}

/// <summary>A round's agreed model evaluated on a validator's held-out split.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Federation.RoundEvaluation")]
public sealed record RoundEvaluation([property: Id(0)] string ValidatorVPodId, [property: Id(1)] double Accuracy, [property: Id(2)] double Loss, [property: Id(3)] int SampleCount);

/// <summary>Names of the federation's Orleans streams.</summary>
public static class FederationStreams
{
    /// <summary>Stream namespace of compute vPods' updates; the stream key is the job id (one stream per job).</summary>
    public const string Updates = "federated-updates";
}

/// <summary>The job is not in a phase that allows the operation (e.g. cancelling a completed job); nothing changed.</summary>
[GenerateSerializer, Alias("MetaNode.Federation.InvalidJobOperationException")]
public sealed class InvalidJobOperationException : Exception
{
    public InvalidJobOperationException(string message)
        : base(message)
    {
    }
}

/// <summary>No job has that id.</summary>
[GenerateSerializer, Alias("MetaNode.Federation.JobNotFoundException")]
public sealed class JobNotFoundException : Exception
{
    public JobNotFoundException(string jobId)
        : base($"Federated job '{jobId}' was not found: see 'metanode-cli job list'.")
    {
        JobId = jobId;
    }

    [Id(0)] public string JobId { get; }
}
