using MetaNode.Federation;

namespace MetaNode.Grains.Federation;

/// <summary>What a validator computed for a round; identical bytes on every validator given the same set of updates.</summary>
public sealed record RoundAggregate(
    string Job,
    int Round,
    FederatedModel? Model,
    string ModelHash,
    IReadOnlyList<string> Participants,
    long TotalSamples,
    string ReceiptsRoot,
    AggregationRule Aggregation,
    IReadOnlyList<RejectedUpdate> Rejected)
{
    public bool Succeeded => Model is not null;

    /// <summary>The round result's aggregation fields; the job adds evaluation, chain and validator fields.</summary>
    public RoundResult ToRoundResult() => new()
    {
        Job = Job,
        Round = Round,
        Participants = Participants,
        TotalSamples = TotalSamples,
        ResultHash = ModelHash,
        ReceiptsRoot = ReceiptsRoot,
        Aggregation = Aggregation,
        Rejected = Rejected,
    };
}

/// <summary>
/// The validator's aggregation of one round, a pure function of its inputs:
/// <list type="number">
/// <item>de-duplicate by vPod (a re-delivered identical update counts once; different updates from one vPod reject that vPod);</item>
/// <item>check each update: receipt for this job and round, model of the global model's shape with finite values, sample count ≥ 1,
/// receipt's update hash = keccak-256 of the model's canonical encoding, and the signature (through <c>verifySignature</c> when given);</item>
/// <item>with a robust rule, screen out updates far from the global model (<see cref="UpdateScreening"/>);</item>
/// <item>aggregate the rest in canonical order, hash the canonical encoding, and build the Merkle root of their receipt hashes.</item>
/// </list>
/// </summary>
public static class RoundAggregator
{
    public static RoundAggregate Aggregate(
        string job,
        int round,
        FederatedModel global,
        IEnumerable<ModelUpdate> updates,
        AggregationRule rule,
        int minParticipants = 1,
        Func<TrainingReceipt, bool>? verifySignature = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(job);
        ArgumentNullException.ThrowIfNull(global);
        ArgumentNullException.ThrowIfNull(updates);
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentOutOfRangeException.ThrowIfLessThan(minParticipants, 1);

        var rejected = new List<RejectedUpdate>();
        var candidates = new List<(ModelUpdate Update, byte[] ReceiptHash)>();
        foreach (var group in updates.GroupBy(u => u.Receipt.VPodId, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            // Each model is hashed once; a re-delivered update (same receipt content, same model bytes) collapses into one.
            var distinct = group
                .Select(u => (Update: u, Hash: TryHash(u.Model)))
                .DistinctBy(h => (h.Update.Receipt with { Signature = null }, h.Hash ?? "invalid"))
                .ToList();
            if (distinct.Count > 1)
            {
                rejected.Add(new RejectedUpdate(group.Key, $"sent {distinct.Count} different updates for round {round}"));
                continue;
            }

            var (update, hash) = distinct[0];
            if (Check(job, round, global, update, hash, verifySignature) is { } reason)
            {
                rejected.Add(new RejectedUpdate(group.Key, reason));
                continue;
            }

            candidates.Add((update, ReceiptHashing.Hash(update.Receipt)));
        }

        var weighted = candidates.Select(c => new WeightedModel(c.Update.Receipt.VPodId, c.Update.Receipt.SampleCount, c.Update.Model)).ToList();
        IReadOnlyList<WeightedModel> accepted = weighted;
        if (rule.IsRobust && weighted.Count > 0)
        {
            var screened = UpdateScreening.Screen(global, weighted);
            accepted = screened.Accepted;
            rejected.AddRange(screened.Rejected);
        }

        var ordered = rejected.OrderBy(r => r.VPodId, StringComparer.Ordinal).ToList();
        if (accepted.Count < minParticipants)
        {
            return new RoundAggregate(job, round, null, string.Empty, [], 0, string.Empty, rule, ordered);
        }

        var model = ModelAggregation.Aggregate(accepted, rule);
        var participants = accepted.Select(a => a.VPodId).Order(StringComparer.Ordinal).ToList();
        var included = participants.ToHashSet(StringComparer.Ordinal);
        var root = ReceiptMerkleTree.Root(candidates.Where(c => included.Contains(c.Update.Receipt.VPodId)).Select(c => c.ReceiptHash));
        return new RoundAggregate(
            job,
            round,
            model,
            ModelEncoding.HashHex(model),
            participants,
            accepted.Sum(a => a.SampleCount),
            FederationHashing.ToHex(root),
            rule,
            ordered);
    }

    private static string? Check(string job, int round, FederatedModel global, ModelUpdate update, string? hash, Func<TrainingReceipt, bool>? verifySignature)
    {
        var receipt = update.Receipt;
        if (!string.Equals(receipt.Job, job, StringComparison.Ordinal) || receipt.Round != round)
        {
            return $"receipt is for job '{receipt.Job}' round {receipt.Round}, not job '{job}' round {round}";
        }

        if (update.Model is null || !update.Model.HasSameShape(global))
        {
            return $"model is {update.Model?.Classes}×{update.Model?.Features}; the global model is {global.Classes}×{global.Features}";
        }

        if (receipt.SampleCount < 1)
        {
            return $"sample count {receipt.SampleCount} is not positive";
        }

        if (hash is null)
        {
            return "model holds a value that is not finite";
        }

        if (!string.Equals(hash, receipt.UpdateHash, StringComparison.OrdinalIgnoreCase))
        {
            return $"receipt says update hash {receipt.UpdateHash}, the model hashes to {hash}";
        }

        if (verifySignature is not null && !verifySignature(receipt))
        {
            return "receipt signature does not verify";
        }

        return null;
    }

    private static string? TryHash(FederatedModel? model) =>
        model is not null && model.Parameters.All(double.IsFinite) ? ModelEncoding.HashHex(model) : null;
}
