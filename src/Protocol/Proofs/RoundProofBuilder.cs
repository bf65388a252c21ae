using System.Security.Cryptography;
using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Storage;

namespace MetaNode.Proofs;

/// <summary>
/// What a proof is made of: the job's result of the round (with its signed receipts and the validators' signatures), the registry's
/// record of it as read from the chain, the addresses the job's vPods proved, and the model's bytes (null to leave the model to a gateway).
/// </summary>
public sealed record RoundProofSource(
    long ChainId,
    Federation.RoundResult Result,
    RoundRecord OnChain,
    IReadOnlyDictionary<string, string> Addresses,
    byte[]? Model);

/// <summary>Assembles a <see cref="RoundProof"/>, refusing (with <see cref="InvalidOperationException"/>) a round it could not prove.</summary>
public static class RoundProofBuilder
{
    public static async Task<RoundProof> BuildAsync(RoundProofSource source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var (result, chain) = (source.Result, source.OnChain);
        var what = $"round {result.Round} of job {result.Job}";
        if (!chain.Finalized || !chain.Verified || chain.BlockNumber is not { } block || chain.TransactionHash is null || chain.BlockHash is null || chain.Registry is null)
        {
            throw new InvalidOperationException($"{what} is not finalized on the registry, or its event could not be read back and checked.");
        }

        if (!Same(chain.ResultHash, result.ResultHash) || !Same(chain.ReceiptsRoot, result.ReceiptsRoot) || !Same(chain.ModelRef, result.ModelRef))
        {
            throw new InvalidOperationException($"the registry's record of {what} is not the job's result (was the registry redeployed since?).");
        }

        if (string.IsNullOrEmpty(chain.ModelCid) || chain.ModelCid != result.ModelCid)
        {
            throw new InvalidOperationException($"{what} was finalized without the model's CID, or with another one than the job's ('{chain.ModelCid}').");
        }

        if (result.Receipts.Count == 0 || result.Signatures.Count == 0)
        {
            throw new InvalidOperationException($"{what} keeps no signed receipts or no validator signatures (a round finalized before receipts were kept).");
        }

        var leaves = result.Receipts.Select(ReceiptHashing.Hash).ToList();
        var receipts = result.Receipts
            .OrderBy(r => r.VPodId, StringComparer.Ordinal)
            .Select(r => new ProofReceipt(
                r.VPodId,
                Lower(source.Addresses.TryGetValue(r.VPodId, out var address) ? address : throw new InvalidOperationException($"the job has no address for {r.VPodId}.")),
                r.SampleCount,
                Lower(r.UpdateHash),
                Lower(r.Signature ?? throw new InvalidOperationException($"{r.VPodId}'s receipt is not signed.")),
                [.. ReceiptMerkleTree.Proof(leaves, ReceiptHashing.Hash(r)).Select(h => FederationHashing.ToHex(h))]))
            .ToList();

        return new RoundProof
        {
            ChainId = source.ChainId,
            Registry = Lower(chain.Registry),
            Job = result.Job,
            Round = result.Round,
            ResultHash = Lower(result.ResultHash),
            ReceiptsRoot = Lower(result.ReceiptsRoot),
            ModelRef = Lower(result.ModelRef!),
            ModelCid = chain.ModelCid,
            Transaction = new ProofTransaction(Lower(chain.TransactionHash), block, Lower(chain.BlockHash)),
            Validators = [.. result.Signatures
                .Select(s => new ProofSignature(Lower(s.Signer), Lower(s.Signature)))
                .DistinctBy(s => s.Address)
                .OrderBy(s => s.Address, StringComparer.Ordinal)],
            Receipts = receipts,
            ModelCar = source.Model is { } model ? await ModelCarAsync(model, chain.ModelCid, result.ModelRef!, what, cancellationToken) : null,
        };
    }

    /// <summary>The model's UnixFS blocks as a CARv1 rooted at its CID; refused when the bytes are not the round's model.</summary>
    private static async Task<byte[]> ModelCarAsync(byte[] model, string modelCid, string modelRef, string what, CancellationToken cancellationToken)
    {
        if (!Same(FederationHashing.ToHex(SHA256.HashData(model)), modelRef))
        {
            throw new InvalidOperationException($"the model bytes the job gave for {what} do not hash to its model ref {modelRef}.");
        }

        var blocks = UnixFsFile.Import(model);
        var root = blocks[^1].Cid;
        if (root.ToString() != modelCid)
        {
            throw new InvalidOperationException($"the model bytes of {what} import to {root}, not to the CID on chain {modelCid}.");
        }

        using var car = new MemoryStream();
        await Car.WriteHeaderAsync(car, [root], cancellationToken);
        // Root first, so a reader meets it before the blocks it links to.
        for (var i = blocks.Count - 1; i >= 0; i--)
        {
            await Car.WriteBlockAsync(car, blocks[i], cancellationToken);
        }

        return car.ToArray();
    }

    private static bool Same(string? a, string? b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    private static string Lower(string value) => value.ToLowerInvariant();
}
