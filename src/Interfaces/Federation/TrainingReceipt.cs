namespace MetaNode.Federation;

/// <summary>
/// What a compute vPod attests about its update for one round. Its canonical hash (the EIP-712 struct hash, see
/// <c>ReceiptHashing</c>) is what the vPod signs and what the receipts' Merkle root is built from; <see cref="Signature"/> is
/// not part of the hash.
/// </summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Federation.TrainingReceipt")]
public sealed record TrainingReceipt(
    [property: Id(0)] string Job,
    [property: Id(1)] int Round,
    [property: Id(2)] string VPodId,
    [property: Id(3)] long SampleCount,
    [property: Id(4)] string UpdateHash,
    [property: Id(5)] string? Signature = null);

/// <summary>Local-training figures a workload reports with its update (loss and accuracy on its own train split after training).</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Federation.TrainingMetrics")]
public sealed record TrainingMetrics(
    [property: Id(0)] double Loss,
    [property: Id(1)] double Accuracy,
    [property: Id(2)] int Steps,
    [property: Id(3)] double ElapsedMs);

/// <summary>
/// One compute vPod's contribution to a round: its receipt and the model it trained. Consumers de-duplicate by
/// <see cref="EventId"/> (<c>job/round/vPod</c>).
/// </summary>
[GenerateSerializer, Alias("MetaNode.Federation.ModelUpdate")]
public sealed record ModelUpdate(
    [property: Id(0)] TrainingReceipt Receipt,
    [property: Id(1)] FederatedModel Model,
    [property: Id(2)] TrainingMetrics? Metrics = null)
{
    public string EventId => $"{Receipt.Job}/{Receipt.Round}/{Receipt.VPodId}";
}

/// <summary>An update a validator left out of the aggregate, and why.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Federation.RejectedUpdate")]
public sealed record RejectedUpdate(
    [property: Id(0)] string VPodId,
    [property: Id(1)] string Reason);

/// <summary>
/// The outcome of one round. The aggregation fields come from <c>RoundAggregator</c> (identical on every honest validator);
/// evaluation, chain and validator fields are filled by the job as the round completes.
/// </summary>
[GenerateSerializer, Alias("MetaNode.Federation.RoundResult")]
public sealed record RoundResult
{
    [Id(0)] public required string Job { get; init; }
    [Id(1)] public required int Round { get; init; }
    /// <summary>vPods whose updates were aggregated, sorted by ordinal vPod id.</summary>
    [Id(2)] public IReadOnlyList<string> Participants { get; init; } = [];
    [Id(3)] public long TotalSamples { get; init; }
    /// <summary>Keccak-256 of the aggregated model's canonical encoding, <c>0x</c> + 64 hex digits.</summary>
    [Id(4)] public string ResultHash { get; init; } = string.Empty;
    /// <summary>Merkle root of the participants' receipt hashes, <c>0x</c> + 64 hex digits.</summary>
    [Id(5)] public string ReceiptsRoot { get; init; } = string.Empty;
    [Id(6)] public AggregationRule Aggregation { get; init; } = AggregationRule.FederatedAverage;
    [Id(7)] public IReadOnlyList<RejectedUpdate> Rejected { get; init; } = [];
    /// <summary>Accuracy and loss of the aggregated model on the held-out split.</summary>
    [Id(8)] public double? Accuracy { get; init; }
    [Id(9)] public double? Loss { get; init; }
    /// <summary>Where the model bytes are kept (e.g. a content id).</summary>
    [Id(10)] public string? ModelRef { get; init; }
    [Id(11)] public string? TxHash { get; init; }
    /// <summary>Validators whose signatures over <see cref="ResultHash"/> finalized the round.</summary>
    [Id(12)] public IReadOnlyList<string> Validators { get; init; } = [];
    /// <summary>Validators that signed another hash or did not sign.</summary>
    [Id(13)] public IReadOnlyList<string> DisagreeingValidators { get; init; } = [];
    /// <summary>The agreeing validators' signatures as their workloads made them: what <c>chain finalize</c> may re-submit.</summary>
    [Id(14)] public IReadOnlyList<MetaNode.Chain.ValidatorSignature> Signatures { get; init; } = [];

    /// <summary>The model's IPFS CID (CIDv1 text, as <c>ipfs add --cid-version 1</c> computes it), also recorded on chain with the round.</summary>
    [Id(15)] public string? ModelCid { get; init; }
    /// <summary>The CID of the round's public record (JSON) in the job's storage cluster (null when the job names none).</summary>
    [Id(21)] public string? RecordCid { get; init; }
    /// <summary>The participants' signed receipts, by vPod id: the leaves of <see cref="ReceiptsRoot"/> (under secure aggregation they sign the masked vectors).</summary>
    [Id(22)] public IReadOnlyList<TrainingReceipt> Receipts { get; init; } = [];
    /// <summary>The server optimizer's state after the round: keccak-256 of its canonical encoding (null for <c>avg</c>).</summary>
    [Id(23)] public string? StateHash { get; init; }
    /// <summary>The agreeing validators' signatures over <c>ServerState(jobId, round, resultHash, stateHash)</c> in the registry's domain.</summary>
    [Id(24)] public IReadOnlyList<MetaNode.Chain.ValidatorSignature> StateSignatures { get; init; } = [];
}
