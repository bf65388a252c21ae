using System.Text.Json;
using System.Text.Json.Serialization;
using MetaNode.Federation;
using MetaNode.Storage;

namespace MetaNode.Grains.Federation;

/// <summary>The public record of a finalized round, as stored by CID in the job's storage cluster.</summary>
public sealed record PublicRoundRecord(
    [property: JsonPropertyName("job")] string Job,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("participants")] IReadOnlyList<string> Participants,
    [property: JsonPropertyName("totalSamples")] long TotalSamples,
    [property: JsonPropertyName("resultHash")] string ResultHash,
    [property: JsonPropertyName("receiptsRoot")] string ReceiptsRoot,
    [property: JsonPropertyName("modelRef")] string? ModelRef,
    [property: JsonPropertyName("modelCid")] string? ModelCid,
    [property: JsonPropertyName("txHash")] string? TxHash,
    [property: JsonPropertyName("validators")] IReadOnlyList<string> Validators,
    [property: JsonPropertyName("signatures")] IReadOnlyList<PublicSignature> Signatures,
    [property: JsonPropertyName("accuracy")] double? Accuracy,
    [property: JsonPropertyName("loss")] double? Loss,
    [property: JsonPropertyName("chainId")] long ChainId,
    [property: JsonPropertyName("receipts")] IReadOnlyList<PublicReceipt> Receipts);

/// <summary>A participant's receipt as it signed it (EIP-712 <c>TrainingReceipt</c> in the vPod domain of <c>chainId</c>).</summary>
public sealed record PublicReceipt(
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("sampleCount")] long SampleCount,
    [property: JsonPropertyName("updateHash")] string UpdateHash,
    [property: JsonPropertyName("signature")] string? Signature);

public sealed record PublicSignature(
    [property: JsonPropertyName("signer")] string Signer,
    [property: JsonPropertyName("signature")] string Signature);

[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(PublicRoundRecord))]
internal sealed partial class PublicRecordJson : JsonSerializerContext;

public sealed partial class FederatedJobGrain
{
    /// <summary>Blocks sent per storage call.</summary>
    private const int StorageBatchBlocks = 16;

    /// <summary>
    /// Stores a UnixFS file's blocks (<see cref="UnixFsFile.Import"/>, root last) in the storage cluster and pins it for this job;
    /// returns its CID. Content addressing makes it idempotent: a step retried after a silo loss stores and pins the same CID again.
    /// </summary>
    private async Task<string> StoreAsync(string cluster, IReadOnlyList<Block> blocks, CancellationToken cancellationToken)
    {
        var storage = GrainFactory.GetGrain<IStorageGrain>(cluster);
        foreach (var batch in blocks.Chunk(StorageBatchBlocks))
        {
            await storage.PutBlocksAsync([.. batch.Select(b => new BlockUpload(b.Cid.ToString(), b.Data))], cancellationToken);
        }

        var root = blocks[^1].Cid.ToString();
        await storage.PinForAsync(root, PinOwners.Job(JobId), "job " + JobId, cancellationToken);
        return root;
    }

    /// <summary>The signed receipts the participants' updates came with: the job's accepted copies, or the masked vectors' under secure aggregation.</summary>
    private List<TrainingReceipt> ParticipantReceipts(IEnumerable<string> participants) =>
        [.. participants
            .Select(id => Secure
                ? Transcript().Masked?.GetValueOrDefault(id)?.Receipt?.ToReceipt()
                : State.Updates.GetValueOrDefault(id)?.Update.Receipt)
            .OfType<TrainingReceipt>()
            .OrderBy(r => r.VPodId, StringComparer.Ordinal)];

    /// <summary>The round's public facts as compact JSON (the same result always gives the same bytes, so the same CID).</summary>
    private byte[] RoundRecordJson(RoundResult result) =>
        JsonSerializer.SerializeToUtf8Bytes(
            new PublicRoundRecord(
                result.Job,
                result.Round,
                result.Participants,
                result.TotalSamples,
                result.ResultHash,
                result.ReceiptsRoot,
                result.ModelRef,
                result.ModelCid,
                result.TxHash,
                result.Validators,
                [.. result.Signatures.Select(s => new PublicSignature(s.Signer, s.Signature))],
                result.Accuracy is { } accuracy && double.IsFinite(accuracy) ? accuracy : null,
                result.Loss is { } loss && double.IsFinite(loss) ? loss : null,
                State.ChainId,
                [.. result.Receipts.Select(r => new PublicReceipt(r.VPodId, r.SampleCount, r.UpdateHash, r.Signature))]),
            PublicRecordJson.Default.PublicRoundRecord);
}
