using System.Globalization;

namespace MetaNode.Federation.SecureAggregation;

/// <summary>What the job fixed for a secure round: its participants (all the job's compute vPods), seed, threshold and starting model.</summary>
public sealed record SecureRoundFacts(string Job, int Round, long ChainId, ulong Seed, int Threshold, FederatedModel Global, IReadOnlyList<RoundParticipant> Participants);

/// <summary>A compute vPod's advertised key-agreement keys for a round, signed with its vPod key.</summary>
public sealed record AdvertisedKeys(string VPodId, byte[] CipherKey, byte[] MaskKey, string? Signature);

/// <summary>A survivor's signature over the round's survivor set.</summary>
public sealed record SurvivorSignature(string VPodId, string? Signature);

/// <summary>A masked update: the receipt (its update hash covers the encoding), the masked vector, whom it masked with and its weight's denominator.</summary>
public sealed record MaskedUpdate(TrainingReceipt Receipt, uint[] Masked, IReadOnlyList<string> MaskedWith, long MaxSamples);

/// <summary>The shares a compute vPod revealed for unmasking, signed with its vPod key.</summary>
public sealed record ShareReveal(string VPodId, IReadOnlyList<RevealedShare> Shares, string? Signature);

/// <summary>The round cannot be unmasked (too few survivors, signatures or shares, or an inconsistent transcript); nothing is signed.</summary>
public sealed class SecureAggregationException(string message) : Exception(message);

/// <summary>
/// A validator's unmasking of a secure round, a pure function of the transcript (<c>examples/workload-protocol.md</c>, "Secure
/// aggregation"): it checks the advertised keys, the survivor set's t signatures and every survivor's receipt, excludes revealers
/// that show both kinds of share for a peer (or the kind the survivor set forbids), reconstructs each survivor's self-mask seed and
/// each dropped vPod's mask key from t shares, removes every mask, and dequantizes the sum into the next global model.
/// </summary>
public static class SecureRoundAggregator
{
    public static RoundAggregate Aggregate(
        SecureRoundFacts facts,
        IReadOnlyList<AdvertisedKeys> keys,
        IReadOnlyList<string> survivors,
        IReadOnlyList<SurvivorSignature> survivorSignatures,
        IReadOnlyList<MaskedUpdate> updates,
        IReadOnlyList<ShareReveal> reveals)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var participants = facts.Participants.ToDictionary(p => p.VPodId, StringComparer.Ordinal);
        var graph = new NeighbourGraph(participants.Keys.ToList(), facts.Seed, facts.Round);
        var t = facts.Threshold;
        if (SecAggParameters.ThresholdProblem(t, participants.Count) is { } problem)
        {
            throw new SecureAggregationException(problem);
        }

        // 1. Advertised keys: only those each participant signed.
        var advertised = new Dictionary<string, AdvertisedKeys>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            if (participants.TryGetValue(key.VPodId, out var owner) && !advertised.ContainsKey(key.VPodId)
                && P256Keys.IsPublicKey(key.CipherKey) && P256Keys.IsPublicKey(key.MaskKey)
                && SecAggEncoding.SignedBy(SecAggEncoding.KeysDigest(facts.ChainId, facts.Job, facts.Round, key.VPodId, key.CipherKey, key.MaskKey), key.Signature, owner.Address))
            {
                advertised[key.VPodId] = key;
            }
        }

        // 2. The survivor set, confirmed by t distinct survivors.
        var survivorSet = survivors.ToHashSet(StringComparer.Ordinal);
        if (survivorSet.Count != survivors.Count || survivorSet.Any(s => !advertised.ContainsKey(s)))
        {
            throw new SecureAggregationException("the survivor set lists a vPod twice, or one that is not a participant with advertised keys.");
        }

        var confirmed = survivorSignatures
            .Where(s => survivorSet.Contains(s.VPodId)
                && SecAggEncoding.SignedBy(SecAggEncoding.SurvivorsDigest(facts.ChainId, facts.Job, facts.Round, s.VPodId, survivorSet), s.Signature, participants[s.VPodId].Address))
            .Select(s => s.VPodId).Distinct(StringComparer.Ordinal).Count();
        if (survivorSet.Count < t || confirmed < t)
        {
            throw new SecureAggregationException(
                $"the survivor set of {survivorSet.Count} vPod(s) is confirmed by {confirmed} survivor signature(s); secure aggregation needs t={t}.");
        }

        // 3. One valid masked update per survivor, with consistent mask sets.
        var length = facts.Global.Parameters.Length;
        var maxSamples = participants.Values.Max(p => p.AssignedSamples);
        var masked = new Dictionary<string, MaskedUpdate>(StringComparer.Ordinal);
        foreach (var survivor in survivorSet.Order(StringComparer.Ordinal))
        {
            var participant = participants[survivor];
            var valid = updates.Where(u => u.Receipt.VPodId == survivor && UpdateProblem(facts, participant, graph, advertised, u, length, maxSamples) is null)
                .DistinctBy(u => u.Receipt.UpdateHash, StringComparer.OrdinalIgnoreCase).ToList();
            if (valid.Count != 1)
            {
                var reason = valid.Count > 1
                    ? "it signed two different masked updates"
                    : updates.FirstOrDefault(u => u.Receipt.VPodId == survivor) is { } first ? UpdateProblem(facts, participant, graph, advertised, first, length, maxSamples) : "no masked update was received";
                throw new SecureAggregationException($"survivor {survivor}'s masked update cannot be used: {reason}.");
            }

            masked[survivor] = valid[0];
        }

        foreach (var (id, update) in masked)
        {
            foreach (var peer in update.MaskedWith.Where(survivorSet.Contains))
            {
                if (!masked[peer].MaskedWith.Contains(id, StringComparer.Ordinal))
                {
                    throw new SecureAggregationException($"survivors {id} and {peer} disagree on whether they masked with each other: they were shown different share sets.");
                }
            }
        }

        // 4. Reveals: signed by survivors; a revealer that shows a forbidden kind, or two shares for one peer, is excluded.
        var rejected = new List<RejectedUpdate>();
        var selfMaskShares = new Dictionary<string, Dictionary<int, byte[]>>(StringComparer.Ordinal);
        var maskKeyShares = new Dictionary<string, Dictionary<int, byte[]>>(StringComparer.Ordinal);
        foreach (var reveal in reveals.Where(r => survivorSet.Contains(r.VPodId)).DistinctBy(r => r.VPodId, StringComparer.Ordinal).OrderBy(r => r.VPodId, StringComparer.Ordinal))
        {
            if (!SecAggEncoding.SignedBy(SecAggEncoding.RevealDigest(facts.ChainId, facts.Job, facts.Round, reveal.VPodId, reveal.Shares), reveal.Signature, participants[reveal.VPodId].Address))
            {
                continue;
            }

            var twice = reveal.Shares.GroupBy(s => s.Peer, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1)?.Key;
            var forbidden = reveal.Shares.FirstOrDefault(s => s.Kind == (survivorSet.Contains(s.Peer) ? ShareKind.MaskKey : ShareKind.SelfMask));
            if (twice is not null || forbidden is not null)
            {
                rejected.Add(new RejectedUpdate(reveal.VPodId, twice is not null
                    ? $"revealed two shares for {twice}: its shares were excluded"
                    : $"revealed a {SecAggEncoding.KindName(forbidden!.Kind)} share of {forbidden.Peer}, which the survivor set forbids: its shares were excluded"));
                continue;
            }

            var x = graph.Index[reveal.VPodId] + 1;
            foreach (var share in reveal.Shares.Where(s => graph.AreNeighbours(s.Peer, reveal.VPodId)))
            {
                var byPeer = share.Kind == ShareKind.SelfMask ? selfMaskShares : maskKeyShares;
                if (!byPeer.TryGetValue(share.Peer, out var shares))
                {
                    shares = [];
                    byPeer[share.Peer] = shares;
                }

                shares[x] = share.Share;
            }
        }

        // 5. Remove every mask.
        var sum = new uint[length];
        foreach (var update in masked.Values)
        {
            MaskMath.Add(sum, update.Masked);
        }

        foreach (var survivor in masked.Keys)
        {
            var seed = ShamirSharing.Combine(selfMaskShares.GetValueOrDefault(survivor) ?? [], t)
                ?? throw new SecureAggregationException(
                    $"the self-mask of {survivor} cannot be rebuilt: {selfMaskShares.GetValueOrDefault(survivor)?.Count ?? 0} share(s) were revealed, t={t} are needed.");
            MaskMath.AddPrg(sum, seed, subtract: true);
        }

        var dropped = masked.Values.SelectMany(u => u.MaskedWith).Where(id => !survivorSet.Contains(id)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        foreach (var gone in dropped)
        {
            var key = ShamirSharing.Combine(maskKeyShares.GetValueOrDefault(gone) ?? [], t)
                ?? throw new SecureAggregationException(
                    $"the mask key of dropped vPod {gone} cannot be rebuilt: {maskKeyShares.GetValueOrDefault(gone)?.Count ?? 0} share(s) were revealed, t={t} are needed.");
            if (!PublicKeyMatches(key, advertised[gone].MaskKey))
            {
                throw new SecureAggregationException($"the mask key rebuilt for dropped vPod {gone} is not the key it advertised: a revealed share is wrong.");
            }

            foreach (var (id, update) in masked.Where(m => m.Value.MaskedWith.Contains(gone, StringComparer.Ordinal)))
            {
                // The survivor added +PRG when its id sorts first, −PRG otherwise; undo it.
                var pairSeed = MaskMath.Hkdf(P256Keys.SharedSecret(key, advertised[id].MaskKey), MaskMath.MaskInfo);
                MaskMath.AddPrg(sum, pairSeed, subtract: string.CompareOrdinal(id, gone) < 0);
            }
        }

        // 6. Dequantize and hash.
        var totalWeight = 0.0;
        long totalSamples = 0;
        foreach (var id in masked.Keys.Order(StringComparer.Ordinal))
        {
            totalWeight += MaskMath.Weight(participants[id].AssignedSamples, maxSamples);
            totalSamples = checked(totalSamples + participants[id].AssignedSamples);
        }

        var parameters = MaskMath.Dequantize(sum, facts.Global.Parameters, masked.Count, totalWeight);
        var model = new FederatedModel(facts.Global.Classes, facts.Global.Features, parameters);
        var included = masked.Keys.Order(StringComparer.Ordinal).ToList();
        var root = ReceiptMerkleTree.Root(included.Select(id => ReceiptHashing.Hash(masked[id].Receipt)));
        return new RoundAggregate(facts.Job, facts.Round, model, ModelEncoding.HashHex(model), included, totalSamples, FederationHashing.ToHex(root),
            AggregationRule.FederatedAverage, rejected.OrderBy(r => r.VPodId, StringComparer.Ordinal).ToList());
    }

    private static bool PublicKeyMatches(byte[] privateKey, byte[] advertised)
    {
        try
        {
            return P256Keys.PublicOf(privateKey).AsSpan().SequenceEqual(advertised);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return false;
        }
    }

    private static string? UpdateProblem(SecureRoundFacts facts, RoundParticipant participant, NeighbourGraph graph, Dictionary<string, AdvertisedKeys> advertised, MaskedUpdate update, int length, long maxSamples)
    {
        var receipt = update.Receipt;
        if (receipt.Job != facts.Job || receipt.Round != facts.Round)
        {
            return $"its receipt is for job '{receipt.Job}' round {receipt.Round}";
        }

        if (receipt.SampleCount != participant.AssignedSamples)
        {
            return string.Create(CultureInfo.InvariantCulture, $"its receipt claims {receipt.SampleCount} samples; the job placed {participant.AssignedSamples} rows with this vPod");
        }

        if (update.Masked is null || update.Masked.Length != length)
        {
            return $"it holds {update.Masked?.Length ?? 0} values; the model has {length} parameters";
        }

        if (update.MaxSamples != maxSamples)
        {
            return $"it was weighted against {update.MaxSamples} samples, not the largest assigned count {maxSamples}";
        }

        if (update.MaskedWith is null || update.MaskedWith.Distinct(StringComparer.Ordinal).Count() != update.MaskedWith.Count
            || update.MaskedWith.Any(j => j == receipt.VPodId || !advertised.ContainsKey(j) || !graph.AreNeighbours(receipt.VPodId, j)))
        {
            return "it masked with a vPod that is not one of its neighbours with advertised keys";
        }

        if (!string.Equals(SecAggEncoding.MaskedHashHex(update.Masked, update.MaxSamples, update.MaskedWith), receipt.UpdateHash, StringComparison.OrdinalIgnoreCase))
        {
            return "its receipt's update hash is not the masked update's";
        }

        return MetaNode.Chain.VPodTypedData.ReceiptSignedBy(receipt, facts.ChainId, participant.Address) ? null : "its receipt signature does not recover to the vPod's address";
    }
}
