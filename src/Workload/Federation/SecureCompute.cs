// Longer than 400 lines: the compute side of the secure-aggregation protocol, one method per stage, in the order the protocol document gives them.
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Federation.SecureAggregation;
using MetaNode.Workload.Keys;
using MetaNode.Workloads;

namespace MetaNode.Workload.Federation;

/// <summary>The plaintext of a share envelope.</summary>
public sealed record ShareMessage(
    [property: JsonPropertyName("from")] string From,
    [property: JsonPropertyName("to")] string To,
    [property: JsonPropertyName("selfMask")] string SelfMask,
    [property: JsonPropertyName("maskKey")] string MaskKey);

[JsonSerializable(typeof(ShareMessage))]
public sealed partial class ShareMessageJson : JsonSerializerContext;

/// <summary>
/// A compute vPod's part in secure aggregation (<c>/v2/secagg/keys</c>, <c>shares</c>, <c>train</c>, <c>survivors</c>, <c>reveal</c>):
/// fresh P-256 key pairs per round, its self-mask seed and mask key Shamir-shared among its neighbours in sealed envelopes, its update
/// quantized and masked, one survivor set signed per round, and per peer one kind of share revealed — durably, whatever it is asked.
/// Requests are handled one at a time.
/// </summary>
public sealed class SecureCompute(LocalLearning learning, VPodKey key, SecureComputeState state, string vpodId)
{
    private readonly Lock _gate = new();

    public SecAggKeysDto Keys(SecAggKeysRequest? request)
    {
        if (request is null)
        {
            throw new InvalidWorkloadRequestException("The body must be a JSON object with job, round, chainId, seed, threshold and participants.");
        }

        SecureComputeState.CheckJob(request.Job);
        CheckRound(request.Round);
        IdentityProof.CheckChainId(request.ChainId);
        if (request.Participants is not { Length: > 0 } listed)
        {
            throw new InvalidWorkloadRequestException("participants is empty: name the job's compute vPods and their addresses.");
        }

        var participants = new List<SecAggParticipantDto>();
        for (var i = 0; i < listed.Length; i++)
        {
            var p = listed[i] ?? throw new InvalidWorkloadRequestException($"participants[{i}] is null.");
            if (string.IsNullOrEmpty(p.VPodId) || participants.Any(q => q.VPodId == p.VPodId))
            {
                throw new InvalidWorkloadRequestException($"participants[{i}].vpodId '{p.VPodId}' is empty or listed twice.");
            }

            participants.Add(new SecAggParticipantDto(p.VPodId, RoundValidation.CheckAddress(p.Address, $"participants[{i}].address")));
        }

        if (!participants.Any(p => p.VPodId == vpodId))
        {
            throw new InvalidWorkloadRequestException($"this vPod ({vpodId}) is not among the participants.");
        }

        if (SecAggParameters.ThresholdProblem(request.Threshold, participants.Count) is { } problem)
        {
            throw new InvalidWorkloadRequestException("threshold: " + problem);
        }

        var job = new SecureJobRecord(request.ChainId, request.Seed, request.Threshold, [.. participants.OrderBy(p => p.VPodId, StringComparer.Ordinal)]);
        lock (_gate)
        {
            if (state.ReadJob(request.Job!) is { } fixedJob)
            {
                if (fixedJob.ChainId != job.ChainId || fixedJob.Seed != job.Seed || fixedJob.Threshold != job.Threshold || !fixedJob.Participants.SequenceEqual(job.Participants))
                {
                    throw new WorkloadConflictException($"job '{request.Job}' was started with other participants, seed, threshold or chain: this vPod keeps what the job's first round fixed");
                }
            }
            else
            {
                state.WriteJob(request.Job!, job);
            }

            if (state.ReadRound(request.Job!, request.Round) is { } existing)
            {
                return existing.Keys;
            }

            var cipher = P256Keys.Create();
            var mask = P256Keys.Create();
            var digest = SecAggEncoding.KeysDigest(job.ChainId, request.Job!, request.Round, vpodId, cipher.Public, mask.Public);
            var record = new SecureRoundRecord
            {
                CipherPrivate = Hex(cipher.Private),
                MaskPrivate = Hex(mask.Private),
                Keys = new SecAggKeysDto(vpodId, Hex(cipher.Public), Hex(mask.Public), key.Sign(digest)),
            };
            state.WriteRound(request.Job!, request.Round, record);
            return record.Keys;
        }
    }

    public SecAggSharesResponse Shares(SecAggSharesRequest? request)
    {
        if (request is null)
        {
            throw new InvalidWorkloadRequestException("The body must be a JSON object with job, round and keys.");
        }

        lock (_gate)
        {
            var (job, round, graph) = Load(request.Job, request.Round);
            var advertised = Advertised(job, request.Job!, request.Round, request.Keys);
            if (!advertised.TryGetValue(vpodId, out var own) || own != round.Keys)
            {
                throw new WorkloadConflictException("keys does not hold this vPod's own keys for the round as it advertised them");
            }

            var hash = FederationHashing.ToHex(FederationHashing.Keccak256(Encoding.UTF8.GetBytes(string.Concat(
                advertised.Values.OrderBy(k => k.VPodId, StringComparer.Ordinal).Select(k => $"{k.VPodId} {k.CipherKey} {k.MaskKey}\n")))));
            if (round.AdvertisedHash is { } earlier)
            {
                return earlier == hash ? round.SharesAnswer! : throw new WorkloadConflictException(
                    $"this vPod already shared its secrets for job {request.Job} round {request.Round} among another set of advertised keys: it shares once per round");
            }

            var holders = graph.Neighbourhood(vpodId).Where(advertised.ContainsKey).ToList();
            if (holders.Count < job.Threshold)
            {
                throw new WorkloadConflictException(
                    $"only {holders.Count} of this vPod's neighbours (itself included) advertised keys; secure aggregation needs t={job.Threshold} to hold its shares");
            }

            var selfMask = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
            var xs = holders.Select(h => graph.Index[h] + 1).ToList();
            var selfMaskShares = ShamirSharing.Split(selfMask, job.Threshold, xs);
            var maskKeyShares = ShamirSharing.Split(Bytes(round.MaskPrivate), job.Threshold, xs);
            var envelopes = new List<SecAggEnvelopeDto>();
            foreach (var holder in holders)
            {
                var x = graph.Index[holder] + 1;
                var shares = new HeldShares(Hex(selfMaskShares[x]), Hex(maskKeyShares[x]));
                if (holder == vpodId)
                {
                    round.Held[vpodId] = shares;
                    continue;
                }

                var message = JsonSerializer.SerializeToUtf8Bytes(new ShareMessage(vpodId, holder, shares.SelfMask, shares.MaskKey), ShareMessageJson.Default.ShareMessage);
                var sealedBytes = ShareEnvelope.Seal(Bytes(round.CipherPrivate), Bytes(advertised[holder].CipherKey), ShareEnvelope.AssociatedData(request.Job!, request.Round, vpodId, holder), message);
                envelopes.Add(new SecAggEnvelopeDto(null, holder, Hex(sealedBytes)));
            }

            round.Advertised = [.. advertised.Values.OrderBy(k => k.VPodId, StringComparer.Ordinal)];
            round.AdvertisedHash = hash;
            round.SelfMask = Hex(selfMask);
            round.SharesAnswer = new SecAggSharesResponse(vpodId, [.. envelopes]);
            state.WriteRound(request.Job!, request.Round, round);
            return round.SharesAnswer;
        }
    }

    public SecAggTrainResponse Train(SecAggTrainRequest? request)
    {
        if (request is null)
        {
            throw new InvalidWorkloadRequestException("The body must be a JSON object with job, round, model, hyperParameters, maxSamples and shares.");
        }

        IdentityProof.CheckChainId(request.ChainId);
        if (request.MaxSamples < 1 || (request.AssignedSamples is { } assigned && assigned > request.MaxSamples))
        {
            throw new InvalidWorkloadRequestException($"maxSamples '{request.MaxSamples}' must be at least 1 and at least assignedSamples.");
        }

        lock (_gate)
        {
            var (job, round, graph) = Load(request.Job, request.Round);
            if (round.AdvertisedHash is null || round.Advertised is null)
            {
                throw new WorkloadConflictException($"this vPod has not shared its secrets for job {request.Job} round {request.Round}: send /v2/secagg/shares first");
            }

            if (job.ChainId != request.ChainId)
            {
                throw new WorkloadConflictException($"job {request.Job} runs on chain {job.ChainId}, not {request.ChainId}");
            }

            var advertised = round.Advertised.ToDictionary(k => k.VPodId, StringComparer.Ordinal);
            var opened = new SortedDictionary<string, HeldShares>(StringComparer.Ordinal);
            foreach (var envelope in request.Shares ?? [])
            {
                if (envelope?.From is not { } from || from == vpodId || opened.ContainsKey(from) || !advertised.TryGetValue(from, out var sender)
                    || !graph.AreNeighbours(vpodId, from) || (envelope.To is { } to && to != vpodId) || TryBytes(envelope.Ciphertext) is not { } sealedBytes)
                {
                    continue;
                }

                var plaintext = ShareEnvelope.Open(Bytes(round.CipherPrivate), Bytes(sender.CipherKey), ShareEnvelope.AssociatedData(request.Job!, request.Round, from, vpodId), sealedBytes);
                if (plaintext is null)
                {
                    continue;
                }

                ShareMessage? message;
                try
                {
                    message = JsonSerializer.Deserialize(plaintext, ShareMessageJson.Default.ShareMessage);
                }
                catch (JsonException)
                {
                    continue;
                }

                if (message is not null && message.From == from && message.To == vpodId && IsShare(message.SelfMask) && IsShare(message.MaskKey))
                {
                    opened[from] = new HeldShares(message.SelfMask.ToLowerInvariant(), message.MaskKey.ToLowerInvariant());
                }
            }

            if (opened.Count + 1 < job.Threshold)
            {
                throw new WorkloadConflictException(
                    $"only {opened.Count} neighbour(s) sent this vPod shares it could open; with its own that is {opened.Count + 1}, and secure aggregation needs t={job.Threshold}");
            }

            // The masks are bound to one training request: the same masks over another update would reveal the difference of the two.
            var requestHash = FederationHashing.ToHex(FederationHashing.Keccak256(JsonSerializer.SerializeToUtf8Bytes(
                request with { Shares = null, Job = request.Job, ChainId = request.ChainId }, WorkloadJson.Default.SecAggTrainRequest)));
            var sendersHash = string.Join(",", opened.Keys) + "|" + requestHash;
            if (round.SendersHash is { } earlier)
            {
                return earlier == sendersHash ? round.TrainAnswer! : throw new WorkloadConflictException(
                    $"this vPod already masked its update for job {request.Job} round {request.Round} for another training request or other neighbours ({earlier.Split('|')[0]}): it masks once per round");
            }

            var trained = learning.Train(new TrainRequest(request.Job, request.Round, request.ChainId, request.AssignedSamples, request.Model, request.Standardization, request.HyperParameters));
            var global = request.Model!.ToModel();
            var quantized = MaskMath.Quantize(trained.Model.Parameters, global.Parameters, MaskMath.Weight(trained.SampleCount, request.MaxSamples),
                FederatedSeeds.Derive(job.Seed, "secagg-quantize", request.Round, vpodId));
            MaskMath.AddPrg(quantized, Bytes(round.SelfMask!));
            var maskPrivate = Bytes(round.MaskPrivate);
            foreach (var peer in opened.Keys)
            {
                var seed = MaskMath.Hkdf(P256Keys.SharedSecret(maskPrivate, Bytes(advertised[peer].MaskKey)), MaskMath.MaskInfo);
                MaskMath.AddPrg(quantized, seed, subtract: string.CompareOrdinal(vpodId, peer) > 0);
            }

            string[] maskedWith = [.. opened.Keys];
            var receipt = new TrainingReceipt(request.Job!, request.Round, vpodId, trained.SampleCount, SecAggEncoding.MaskedHashHex(quantized, request.MaxSamples, maskedWith));
            var signed = receipt with { Signature = key.Sign(VPodTypedData.ReceiptDigest(receipt, request.ChainId)) };
            foreach (var (peer, shares) in opened)
            {
                round.Held[peer] = shares;
            }

            round.SendersHash = sendersHash;
            round.TrainAnswer = new SecAggTrainResponse(request.Job!, request.Round, vpodId, quantized, maskedWith, request.MaxSamples, trained.SampleCount, trained.Metrics, ReceiptDto.From(signed));
            state.WriteRound(request.Job!, request.Round, round);
            return round.TrainAnswer;
        }
    }

    public SecAggSignatureDto Survivors(SecAggSurvivorsRequest? request)
    {
        if (request is null)
        {
            throw new InvalidWorkloadRequestException("The body must be a JSON object with job, round and survivors.");
        }

        lock (_gate)
        {
            var (job, round, _) = Load(request.Job, request.Round);
            var survivors = SurvivorSet(job, request.Survivors);
            if (round.TrainAnswer is null)
            {
                throw new WorkloadConflictException($"this vPod sent no masked update for job {request.Job} round {request.Round}: it is no survivor");
            }

            if (round.SignedSurvivors is { } signed)
            {
                return signed.SequenceEqual(survivors) ? new SecAggSignatureDto(vpodId, round.SurvivorsSignature) : throw new WorkloadConflictException(
                    $"this vPod already confirmed another survivor set for job {request.Job} round {request.Round} ({string.Join(", ", signed)}): it confirms one set per round");
            }

            round.SignedSurvivors = survivors;
            round.SurvivorsSignature = key.Sign(SecAggEncoding.SurvivorsDigest(job.ChainId, request.Job!, request.Round, vpodId, survivors));
            state.WriteRound(request.Job!, request.Round, round);
            return new SecAggSignatureDto(vpodId, round.SurvivorsSignature);
        }
    }

    public SecAggRevealDto Reveal(SecAggRevealRequest? request)
    {
        if (request is null)
        {
            throw new InvalidWorkloadRequestException("The body must be a JSON object with job, round, survivors and signatures.");
        }

        lock (_gate)
        {
            var (job, round, _) = Load(request.Job, request.Round);
            var survivors = SurvivorSet(job, request.Survivors);
            if (round.SignedSurvivors is not { } signed || !signed.SequenceEqual(survivors))
            {
                throw new WorkloadConflictException("this vPod reveals shares only for the survivor set it confirmed itself, and it confirmed " +
                    (round.SignedSurvivors is null ? "none for this round" : string.Join(", ", round.SignedSurvivors)));
            }

            var addresses = job.Participants.ToDictionary(p => p.VPodId, p => p.Address, StringComparer.Ordinal);
            var confirmed = (request.Signatures ?? [])
                .Where(s => s is not null && survivors.Contains(s.VPodId, StringComparer.Ordinal)
                    && SecAggEncoding.SignedBy(SecAggEncoding.SurvivorsDigest(job.ChainId, request.Job!, request.Round, s.VPodId, survivors), s.Signature, addresses[s.VPodId]))
                .Select(s => s.VPodId).Distinct(StringComparer.Ordinal).Count();
            if (confirmed < job.Threshold)
            {
                throw new WorkloadConflictException($"the survivor set carries {confirmed} valid survivor signature(s); this vPod reveals only with t={job.Threshold}");
            }

            var shares = new List<RevealedShare>();
            foreach (var (peer, held) in round.Held.OrderBy(h => h.Key, StringComparer.Ordinal))
            {
                var kind = survivors.Contains(peer, StringComparer.Ordinal) ? ShareKind.SelfMask : ShareKind.MaskKey;
                if (round.Revealed.TryGetValue(peer, out var before) && before != SecAggEncoding.KindName(kind))
                {
                    throw new WorkloadConflictException($"this vPod revealed {peer}'s {before} share before; it never reveals both of a peer's secrets");
                }

                shares.Add(new RevealedShare(peer, kind, Bytes(kind == ShareKind.SelfMask ? held.SelfMask : held.MaskKey)));
            }

            foreach (var share in shares)
            {
                round.Revealed[share.Peer] = SecAggEncoding.KindName(share.Kind);
            }

            var signature = key.Sign(SecAggEncoding.RevealDigest(job.ChainId, request.Job!, request.Round, vpodId, shares));
            round.RevealAnswer = new SecAggRevealDto(vpodId, [.. shares.Select(s => new SecAggShareDto(s.Peer, SecAggEncoding.KindName(s.Kind), Hex(s.Share)))], signature);
            state.WriteRound(request.Job!, request.Round, round);
            return round.RevealAnswer;
        }
    }

    private (SecureJobRecord Job, SecureRoundRecord Round, NeighbourGraph Graph) Load(string? job, int round)
    {
        SecureComputeState.CheckJob(job);
        CheckRound(round);
        var fixedJob = state.ReadJob(job!) ?? throw new WorkloadConflictException($"this vPod has no secure-aggregation state for job {job}: send /v2/secagg/keys first");
        var record = state.ReadRound(job!, round) ?? throw new WorkloadConflictException($"this vPod made no keys for job {job} round {round}: send /v2/secagg/keys first");
        return (fixedJob, record, new NeighbourGraph([.. fixedJob.Participants.Select(p => p.VPodId)], fixedJob.Seed, round));
    }

    /// <summary>The advertised keys that recover to their participants' addresses; the rest are ignored.</summary>
    private static SortedDictionary<string, SecAggKeysDto> Advertised(SecureJobRecord job, string jobId, int round, SecAggKeysDto[]? keys)
    {
        var addresses = job.Participants.ToDictionary(p => p.VPodId, p => p.Address, StringComparer.Ordinal);
        var advertised = new SortedDictionary<string, SecAggKeysDto>(StringComparer.Ordinal);
        foreach (var entry in keys ?? [])
        {
            if (entry is null || !addresses.TryGetValue(entry.VPodId ?? string.Empty, out var address) || advertised.ContainsKey(entry.VPodId!)
                || TryBytes(entry.CipherKey) is not { } cipher || TryBytes(entry.MaskKey) is not { } mask || !P256Keys.IsPublicKey(cipher) || !P256Keys.IsPublicKey(mask))
            {
                continue;
            }

            if (SecAggEncoding.SignedBy(SecAggEncoding.KeysDigest(job.ChainId, jobId, round, entry.VPodId!, cipher, mask), entry.Signature, address))
            {
                advertised[entry.VPodId!] = new SecAggKeysDto(entry.VPodId!, Hex(cipher), Hex(mask), entry.Signature!.ToLowerInvariant());
            }
        }

        return advertised;
    }

    private string[] SurvivorSet(SecureJobRecord job, string[]? listed)
    {
        var survivors = (listed ?? []).ToList();
        if (survivors.Any(s => s is null) || survivors.Distinct(StringComparer.Ordinal).Count() != survivors.Count
            || survivors.Any(s => !job.Participants.Any(p => p.VPodId == s)))
        {
            throw new InvalidWorkloadRequestException("survivors must list distinct participants of the job.");
        }

        if (!survivors.Contains(vpodId, StringComparer.Ordinal))
        {
            throw new WorkloadConflictException("this vPod is not in the survivor set: a vPod the job counts as dropped reveals nothing");
        }

        if (survivors.Count < job.Threshold)
        {
            throw new WorkloadConflictException($"the survivor set holds {survivors.Count} vPod(s); secure aggregation needs t={job.Threshold}");
        }

        return [.. survivors.Order(StringComparer.Ordinal)];
    }

    private static void CheckRound(int round)
    {
        if (round < 0)
        {
            throw new InvalidWorkloadRequestException($"round '{round}' must not be negative.");
        }
    }

    private static bool IsShare(string? hex) => TryBytes(hex) is { Length: ShamirSharing.ShareLength };

    private static string Hex(ReadOnlySpan<byte> bytes) => "0x" + Convert.ToHexStringLower(bytes);

    private static byte[] Bytes(string hex) => Convert.FromHexString(hex.AsSpan(2));

    internal static byte[]? TryBytes(string? hex)
    {
        if (hex is null || hex.Length < 2 || !hex.StartsWith("0x", StringComparison.Ordinal) || hex.Length % 2 != 0)
        {
            return null;
        }

        try
        {
            return Convert.FromHexString(hex.AsSpan(2));
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
