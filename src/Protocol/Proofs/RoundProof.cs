namespace MetaNode.Proofs;

/// <summary>
/// A self-contained proof of one finalized round (<c>examples/round-proof.md</c>): what the registry recorded, the validators'
/// signatures, every receipt with its branch to the receipts root, and optionally the model's blocks. Hex values are lower case
/// with <c>0x</c>; <see cref="RoundProofJson"/> reads and writes the bundle.
/// </summary>
public sealed record RoundProof
{
    public const string FormatName = "metanode-round-proof/1";

    public required long ChainId { get; init; }
    public required string Registry { get; init; }
    public required string Job { get; init; }
    public required long Round { get; init; }
    public required string ResultHash { get; init; }
    public required string ReceiptsRoot { get; init; }
    public required string ModelRef { get; init; }
    public required string ModelCid { get; init; }
    public required ProofTransaction Transaction { get; init; }
    /// <summary>Sorted by address ascending.</summary>
    public required IReadOnlyList<ProofSignature> Validators { get; init; }
    /// <summary>Sorted by vPod id (ordinal).</summary>
    public required IReadOnlyList<ProofReceipt> Receipts { get; init; }
    /// <summary>The model's blocks as a CARv1 rooted at <see cref="ModelCid"/>; null when the bundle leaves the model to a gateway.</summary>
    public byte[]? ModelCar { get; init; }
}

/// <summary>The transaction that finalized the round and the block it is in.</summary>
public sealed record ProofTransaction(string Hash, long BlockNumber, string BlockHash);

/// <summary>A validator's 65-byte signature (r ‖ s ‖ v) over the registry's digest of the round, and the address it recovers to.</summary>
public sealed record ProofSignature(string Address, string Signature);

/// <summary>A compute vPod's signed training receipt, the address of its key, and the sibling hashes from its leaf to the receipts root.</summary>
public sealed record ProofReceipt(string VPod, string Address, long SampleCount, string UpdateHash, string Signature, IReadOnlyList<string> Branch);

/// <summary>A bundle that is not exactly the layout <c>examples/round-proof.md</c> describes.</summary>
public sealed class RoundProofFormatException(string message) : Exception(message);
