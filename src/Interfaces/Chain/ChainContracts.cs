namespace MetaNode.Chain;

/// <summary>What <c>chain status</c> shows: the connection, the registry and its validator set.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Chain.ChainStatus")]
public sealed record ChainStatus
{
    /// <summary>False when no chain is configured or the dev chain could not start; <see cref="Reason"/> says why.</summary>
    [Id(0)] public bool Enabled { get; init; }
    [Id(1)] public string? Reason { get; init; }
    [Id(2)] public string? RpcUrl { get; init; }
    [Id(3)] public long ChainId { get; init; }
    [Id(4)] public string? Registry { get; init; }
    [Id(5)] public int Threshold { get; init; }
    [Id(6)] public IReadOnlyList<string> Validators { get; init; } = [];
    /// <summary>The id of the current validator set (also the nonce the next rotation signs).</summary>
    [Id(7)] public long SetId { get; init; }
    [Id(8)] public long LastBlock { get; init; }
    /// <summary>The account that submits transactions for this silo (the operator).</summary>
    [Id(9)] public string? Operator { get; init; }
    [Id(10)] public int Confirmations { get; init; }
    /// <summary>True when the silo runs its own development chain (anvil).</summary>
    [Id(11)] public bool DevChain { get; init; }
}

/// <summary>A validator of the registry's current set and, when known, the vPod that holds its key.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Chain.ValidatorInfo")]
public sealed record ValidatorInfo(
    [property: Id(0)] string Address,
    [property: Id(1)] string? VPodId,
    [property: Id(2)] string? VPodName);

/// <summary>What <c>chain validators</c> shows.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Chain.ValidatorSet")]
public sealed record ValidatorSet
{
    [Id(0)] public required string Registry { get; init; }
    [Id(1)] public int Threshold { get; init; }
    [Id(2)] public long SetId { get; init; }
    [Id(3)] public IReadOnlyList<ValidatorInfo> Validators { get; init; } = [];
}

/// <summary>
/// The record of one federated round that validators sign (EIP-712 type
/// <c>FinalizeRound(bytes32 jobId,uint64 round,bytes32 resultHash,bytes32 receiptsRoot,bytes32 modelRef)</c>), and the model's
/// CID the registry records beside it. Hashes are 0x-prefixed 32-byte hex; the job id is text of at most 32 UTF-8 bytes (stored
/// right-padded in a bytes32).
/// </summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Chain.RoundResult")]
public sealed record RoundResult
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public required long Round { get; init; }
    [Id(2)] public required string ResultHash { get; init; }
    [Id(3)] public required string ReceiptsRoot { get; init; }
    [Id(4)] public required string ModelRef { get; init; }

    /// <summary>
    /// The model's IPFS CID (CIDv1 text, <c>b…</c>), or empty for none. Signed with the rest (each validator computes it from the
    /// bytes it aggregated); the registry also checks its shape (and that a raw CID's digest is <see cref="ModelRef"/>).
    /// </summary>
    [Id(5)] public string ModelCid { get; init; } = string.Empty;
}

/// <summary>A validator's signature (65 bytes r, s, v as 0x hex) over a registry digest.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Chain.ValidatorSignature")]
public sealed record ValidatorSignature(
    [property: Id(0)] string Signer,
    [property: Id(1)] string Signature,
    [property: Id(2)] string? VPodId = null);

/// <summary>How a finalization request ended.</summary>
[GenerateSerializer, Alias("MetaNode.Chain.FinalizationOutcome")]
public enum FinalizationOutcome
{
    None = 0,
    /// <summary>This request's transaction finalized the round.</summary>
    Finalized = 1,
    /// <summary>The round was already on chain; nothing was sent (or the transaction sent lost the race). See <see cref="RoundRecord.Matches"/>.</summary>
    AlreadyFinalized = 2,
}

/// <summary>A finalized round as read back from the chain: the registry's commitment checked against the event.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Chain.RoundRecord")]
public sealed record RoundRecord
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public long Round { get; init; }
    [Id(2)] public bool Finalized { get; init; }
    [Id(3)] public long? BlockNumber { get; init; }
    [Id(4)] public string? TransactionHash { get; init; }
    [Id(5)] public string? ResultHash { get; init; }
    [Id(6)] public string? ReceiptsRoot { get; init; }
    [Id(7)] public string? ModelRef { get; init; }
    /// <summary>The registry's 192-bit commitment to the record (0x hex, 24 bytes).</summary>
    [Id(8)] public string? Commitment { get; init; }
    /// <summary>True when the event found at <see cref="BlockNumber"/> hashes to <see cref="Commitment"/>.</summary>
    [Id(9)] public bool Verified { get; init; }
    [Id(10)] public string? Registry { get; init; }
    /// <summary>Set by a finalization request: whether the record on chain is the one that was asked for (its signed fields, which the commitment covers).</summary>
    [Id(11)] public bool? Matches { get; init; }

    /// <summary>The model's CID the event names (CIDv1 text), empty when it names none; covered by <see cref="Commitment"/> like the other signed fields.</summary>
    [Id(12)] public string? ModelCid { get; init; }

    /// <summary>The hash of <see cref="BlockNumber"/>'s block, as the event's log gave it.</summary>
    [Id(13)] public string? BlockHash { get; init; }
}

/// <summary>The answer to a finalization request.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Chain.FinalizationResult")]
public sealed record FinalizationResult
{
    [Id(0)] public FinalizationOutcome Outcome { get; init; }
    [Id(1)] public required RoundRecord Record { get; init; }
    [Id(2)] public string? TransactionHash { get; init; }
    [Id(3)] public long? GasUsed { get; init; }
    [Id(4)] public string? Submitter { get; init; }
    [Id(5)] public IReadOnlyList<string> Signers { get; init; } = [];
    /// <summary>How long from the first send to the required confirmations (null when nothing was sent).</summary>
    [Id(6)] public TimeSpan? Latency { get; init; }
}

/// <summary>
/// <c>chain finalize</c>: re-submits a round its validators' workloads already signed (the job keeps their signatures). The round's
/// fields must equal what they signed; <see cref="SignerVPodIds"/> narrows whose signatures are sent (all that signed when empty).
/// </summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Chain.FinalizeRoundCommand")]
public sealed record FinalizeRoundCommand
{
    [Id(0)] public required RoundResult Round { get; init; }
    [Id(1)] public IReadOnlyList<string> SignerVPodIds { get; init; } = [];
    /// <summary>Use only the first k signers (the threshold), as a federated round would.</summary>
    [Id(2)] public bool ThresholdOnly { get; init; } = true;
}

/// <summary>
/// <c>chain deploy</c>: a new registry whose validators are the given validator vPods (ids), or every validator vPod; each must
/// prove its admitted key to its workload's identity challenge at deploy time.
/// </summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Chain.DeployRegistryCommand")]
public sealed record DeployRegistryCommand
{
    [Id(0)] public IReadOnlyList<string> Validators { get; init; } = [];
    /// <summary>k; 0 means a majority of the validators.</summary>
    [Id(1)] public int Threshold { get; init; }
}

/// <summary>A submitted transaction's receipt after the required confirmations.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Chain.TransactionResult")]
public sealed record TransactionResult
{
    [Id(0)] public required string TransactionHash { get; init; }
    [Id(1)] public long BlockNumber { get; init; }
    [Id(2)] public long GasUsed { get; init; }
    [Id(3)] public bool Succeeded { get; init; }
    [Id(4)] public string? ContractAddress { get; init; }
    [Id(5)] public TimeSpan Latency { get; init; }
    [Id(6)] public int Replacements { get; init; }
}

/// <summary>
/// A <c>RoundFinalized</c> event seen by the chain watcher. A log is identified by <see cref="EventId"/> (transaction hash and
/// log index) in the block <see cref="BlockHash"/>: the same transaction re-included by a reorg is the same id in another
/// block. With <see cref="Removed"/> the event retracts one published before, whose block a reorg abandoned (as a node's
/// log subscription marks removed logs).
/// </summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Chain.RoundFinalizedEvent")]
public sealed record RoundFinalizedEvent
{
    [Id(0)] public required string EventId { get; init; }
    [Id(1)] public required string Registry { get; init; }
    [Id(2)] public required string JobId { get; init; }
    [Id(3)] public long Round { get; init; }
    [Id(4)] public required string ResultHash { get; init; }
    [Id(5)] public required string ReceiptsRoot { get; init; }
    [Id(6)] public required string ModelRef { get; init; }
    [Id(7)] public long BlockNumber { get; init; }
    [Id(8)] public required string BlockHash { get; init; }
    [Id(9)] public required string TransactionHash { get; init; }
    [Id(10)] public long LogIndex { get; init; }
    [Id(11)] public bool Removed { get; init; }

    /// <summary>The model's CID the event names (CIDv1 text), empty when it names none.</summary>
    [Id(12)] public string ModelCid { get; init; } = string.Empty;
}

/// <summary>The watcher's position, for diagnostics and tests.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Chain.ChainWatcherStatus")]
public sealed record ChainWatcherStatus
{
    [Id(0)] public string? Registry { get; init; }
    /// <summary>The last block whose events were published (the persisted checkpoint).</summary>
    [Id(1)] public long Checkpoint { get; init; }
    [Id(2)] public long EventsPublished { get; init; }
    [Id(3)] public long ReorgsSeen { get; init; }
    [Id(4)] public string? LastError { get; init; }
    /// <summary>Published events retracted because a reorg abandoned their blocks.</summary>
    [Id(5)] public long EventsRetracted { get; init; }
}

/// <summary>Names of the chain's Orleans streams.</summary>
public static class ChainStreams
{
    /// <summary>Stream namespace of registry events; the stream key is the registry address (lower case).</summary>
    public const string RegistryEvents = "chain-registry";
}

/// <summary>A round as the validators signed it: the registry record and their signatures (sorted by signer when submitted).</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Chain.SignedRound")]
public sealed record SignedRound(
    [property: Id(0)] RoundResult Round,
    [property: Id(1)] IReadOnlyList<ValidatorSignature> Signatures);
