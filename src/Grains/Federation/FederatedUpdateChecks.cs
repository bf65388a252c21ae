using System.Buffers.Binary;
using MetaNode.Chain;
using MetaNode.Federation;

namespace MetaNode.Grains.Federation;

/// <summary>Whether a federated job accepts a compute vPod's plain (not secure-aggregated) update, as a pure function of the job's state.</summary>
public static class FederatedUpdateChecks
{
    /// <summary>
    /// Why the job refuses an update, or null when the receipt carries the count the job assigned, hashes the model, and its
    /// signature recovers to the vPod's proved address.
    /// </summary>
    public static string? Refusal(FederatedJobState state, ModelUpdate update)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(update);
        var receipt = update.Receipt;
        if (!state.AssignedSamples.TryGetValue(receipt.VPodId, out var assigned) || !state.Addresses.TryGetValue(receipt.VPodId, out var address))
        {
            return "not a participant of this job";
        }

        if (receipt.SampleCount != assigned)
        {
            return $"receipt claims {receipt.SampleCount} samples; the job placed {assigned} rows with this vPod";
        }

        if (state.GlobalModel is { Length: >= ModelEncoding.HeaderLength } global
            && FederatedModel.UpdateProblem(
                (int)BinaryPrimitives.ReadUInt32LittleEndian(global.AsSpan(4)),
                (int)BinaryPrimitives.ReadUInt32LittleEndian(global.AsSpan(8)),
                update.Model) is { } problem)
        {
            return problem;
        }

        if (update.Model is not { } model || !model.Parameters.All(double.IsFinite)
            || !string.Equals(ModelEncoding.HashHex(model), receipt.UpdateHash, StringComparison.OrdinalIgnoreCase))
        {
            return "the receipt's update hash is not the model's";
        }

        return VPodTypedData.ReceiptSignedBy(receipt, state.ChainId, address) ? null : "receipt signature does not recover to the vPod's proved address";
    }
}
