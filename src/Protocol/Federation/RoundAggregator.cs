using MetaNode.Chain;

namespace MetaNode.Federation;

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

/// <summary>A compute vPod the job admitted to a round: the address its receipts must recover to and the rows the job placed with it.</summary>
public sealed record RoundParticipant(string VPodId, string Address, long AssignedSamples);

/// <summary>
/// What the job fixed for a round and every validator is given: the participants (with their admitted addresses and assigned sample
/// counts), the previous global model, the aggregation rule and the chain whose domain receipts are signed under.
/// </summary>
public sealed record RoundFacts(string Job, int Round, long ChainId, FederatedModel Global, AggregationRule Rule, IReadOnlyList<RoundParticipant> Participants);

/// <summary>
/// The validator's aggregation of one round, a pure function of the facts the job fixed and the updates received:
/// <list type="number">
/// <item>every copy of every update is checked on its own first — receipt for this job and round from a participant, sample count equal
/// to the count the job assigned, model of the global model's shape with finite values, update hash = keccak-256 of the model's
/// canonical encoding, and the receipt's EIP-712 signature recovering to the participant's admitted address;</item>
/// <item>only then are copies de-duplicated: an invalid copy never hides a valid one, and a vPod with two different valid updates is rejected;</item>
/// <item>with a robust rule, updates far from the global model are screened out (<see cref="UpdateScreening"/>);</item>
/// <item>the rest are aggregated in canonical order with the assigned counts as weights (checked arithmetic), the model is hashed, and
/// the Merkle root of the receipt hashes (each covering its assigned count) is built.</item>
/// </list>
/// </summary>
public static class RoundAggregator
{
    public static RoundAggregate Aggregate(
        RoundFacts facts,
        IEnumerable<ModelUpdate> updates,
        int minParticipants = 1,
        Func<TrainingReceipt, string, bool>? verifySignature = null)
    {
        ArgumentNullException.ThrowIfNull(facts);
        ArgumentException.ThrowIfNullOrEmpty(facts.Job);
        ArgumentNullException.ThrowIfNull(facts.Global);
        ArgumentNullException.ThrowIfNull(facts.Rule);
        ArgumentNullException.ThrowIfNull(facts.Participants);
        ArgumentNullException.ThrowIfNull(updates);
        ArgumentOutOfRangeException.ThrowIfLessThan(minParticipants, 1);
        verifySignature ??= (receipt, address) => VPodTypedData.ReceiptSignedBy(receipt, facts.ChainId, address);

        var participants = new Dictionary<string, RoundParticipant>(StringComparer.Ordinal);
        foreach (var participant in facts.Participants)
        {
            if (!participants.TryAdd(participant.VPodId, participant))
            {
                throw new ArgumentException($"vPod '{participant.VPodId}' is listed twice among the round's participants.", nameof(facts));
            }
        }

        var byVPod = updates.Where(u => u?.Receipt?.VPodId is not null).GroupBy(u => u.Receipt.VPodId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var rejected = new List<RejectedUpdate>();
        var candidates = new List<(ModelUpdate Update, byte[] ReceiptHash)>();
        foreach (var vpod in byVPod.Keys.Where(id => !participants.ContainsKey(id)).Order(StringComparer.Ordinal))
        {
            rejected.Add(new RejectedUpdate(vpod, $"vPod '{vpod}' is not a participant of job '{facts.Job}' round {facts.Round}"));
        }

        foreach (var participant in participants.Values.OrderBy(p => p.VPodId, StringComparer.Ordinal))
        {
            if (!byVPod.TryGetValue(participant.VPodId, out var copies))
            {
                rejected.Add(new RejectedUpdate(participant.VPodId, "no update was received"));
                continue;
            }

            // Each copy is checked before copies are compared: a forged copy that arrived first cannot stand in for the real one.
            var checkedCopies = copies.Select(u =>
            {
                var hash = TryHash(u.Model);
                return (Update: u, Hash: hash, Reason: Check(facts, participant, u, hash, verifySignature));
            }).ToList();
            var valid = checkedCopies.Where(c => c.Reason is null).DistinctBy(c => (c.Update.Receipt with { Signature = null }, c.Hash)).ToList();
            if (valid.Count > 1)
            {
                rejected.Add(new RejectedUpdate(participant.VPodId, $"signed {valid.Count} different updates for round {facts.Round}"));
                continue;
            }

            if (valid.Count == 0)
            {
                rejected.Add(new RejectedUpdate(participant.VPodId, checkedCopies[0].Reason!));
                continue;
            }

            candidates.Add((valid[0].Update, ReceiptHashing.Hash(valid[0].Update.Receipt)));
        }

        var weighted = candidates.Select(c => new WeightedModel(c.Update.Receipt.VPodId, participants[c.Update.Receipt.VPodId].AssignedSamples, c.Update.Model)).ToList();
        IReadOnlyList<WeightedModel> accepted = weighted;
        if (facts.Rule.IsRobust && weighted.Count > 0)
        {
            var screened = UpdateScreening.Screen(facts.Global, weighted);
            accepted = screened.Accepted;
            rejected.AddRange(screened.Rejected);
        }

        var ordered = rejected.OrderBy(r => r.VPodId, StringComparer.Ordinal).ToList();
        if (accepted.Count < minParticipants)
        {
            return new RoundAggregate(facts.Job, facts.Round, null, string.Empty, [], 0, string.Empty, facts.Rule, ordered);
        }

        var model = ModelAggregation.Aggregate(accepted, facts.Rule);
        var included = accepted.Select(a => a.VPodId).Order(StringComparer.Ordinal).ToList();
        var includedSet = included.ToHashSet(StringComparer.Ordinal);
        var root = ReceiptMerkleTree.Root(candidates.Where(c => includedSet.Contains(c.Update.Receipt.VPodId)).Select(c => c.ReceiptHash));
        var total = 0L;
        foreach (var weightedModel in accepted)
        {
            total = checked(total + weightedModel.SampleCount);
        }

        return new RoundAggregate(facts.Job, facts.Round, model, ModelEncoding.HashHex(model), included, total, FederationHashing.ToHex(root), facts.Rule, ordered);
    }

    private static string? Check(RoundFacts facts, RoundParticipant participant, ModelUpdate update, string? hash, Func<TrainingReceipt, string, bool> verifySignature)
    {
        var receipt = update.Receipt;
        if (!string.Equals(receipt.Job, facts.Job, StringComparison.Ordinal) || receipt.Round != facts.Round)
        {
            return $"receipt is for job '{receipt.Job}' round {receipt.Round}, not job '{facts.Job}' round {facts.Round}";
        }

        if (receipt.SampleCount != participant.AssignedSamples)
        {
            return $"receipt claims {receipt.SampleCount} samples; the job placed {participant.AssignedSamples} rows with this vPod";
        }

        if (update.Model is null || !update.Model.HasSameShape(facts.Global))
        {
            return $"model is {update.Model?.Classes}×{update.Model?.Features}; the global model is {facts.Global.Classes}×{facts.Global.Features}";
        }

        if (hash is null)
        {
            return "model holds a value that is not finite";
        }

        if (!string.Equals(hash, receipt.UpdateHash, StringComparison.OrdinalIgnoreCase))
        {
            return $"receipt says update hash {receipt.UpdateHash}, the model hashes to {hash}";
        }

        if (!verifySignature(receipt, participant.Address))
        {
            return "receipt signature does not recover to the vPod's admitted address";
        }

        return null;
    }

    private static string? TryHash(FederatedModel? model) =>
        model is not null && model.Parameters.All(double.IsFinite) ? ModelEncoding.HashHex(model) : null;
}
