using System.Text.Json;
using System.Text.Json.Serialization;
using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Federation.SecureAggregation;
using MetaNode.VPods;
using MetaNode.Workloads;

namespace MetaNode.Grains.Federation;

/// <summary>What the job collected in a secure round so far; written after each stage, so a job resumed after a loss goes on from there.</summary>
public sealed class SecureTranscript
{
    [JsonPropertyName("round")] public int Round { get; set; }
    [JsonPropertyName("keys")] public List<SecAggKeysDto>? Keys { get; set; }
    [JsonPropertyName("sharers")] public List<string>? Sharers { get; set; }
    /// <summary>Recipient → the sealed envelopes addressed to it.</summary>
    [JsonPropertyName("inbox")] public Dictionary<string, List<SecAggEnvelopeDto>> Inbox { get; set; } = [];
    [JsonPropertyName("masked")] public Dictionary<string, SecAggMaskedDto>? Masked { get; set; }
    [JsonPropertyName("trainingMs")] public Dictionary<string, double> TrainingMs { get; set; } = [];
    [JsonPropertyName("survivors")] public List<string>? Survivors { get; set; }
    [JsonPropertyName("survivorSignatures")] public List<SecAggSignatureDto> SurvivorSignatures { get; set; } = [];
    [JsonPropertyName("reveals")] public List<SecAggRevealDto>? Reveals { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SecureTranscript))]
internal sealed partial class SecureTranscriptJson : JsonSerializerContext;

/// <summary>
/// A secure-aggregation round (<c>examples/workload-protocol.md</c>, "Secure aggregation"), driven stage by stage over the compute
/// workloads: advertised keys, sealed shares, masked training (until the round's deadline), survivor confirmation and reveal. The job
/// only carries what the workloads made — keys, ciphertext, masked vectors, signatures, the shares the protocol lets them reveal — and
/// hands the transcript to the validator workloads, which unmask the sum. With fewer than t vPods at any stage the round aborts.
/// </summary>
public sealed partial class FederatedJobGrain
{
    private bool Secure => Spec.Algorithm == FederatedAlgorithm.SecureAggregation;

    private SecureTranscript Transcript() =>
        State.SecureTranscript is { } bytes && JsonSerializer.Deserialize(bytes, SecureTranscriptJson.Default.SecureTranscript) is { } transcript && transcript.Round == State.Round
            ? transcript
            : new SecureTranscript { Round = State.Round };

    private Task SaveTranscriptAsync(SecureTranscript transcript, CancellationToken cancellationToken)
    {
        State.SecureTranscript = JsonSerializer.SerializeToUtf8Bytes(transcript, SecureTranscriptJson.Default.SecureTranscript);
        return SaveAsync(cancellationToken);
    }

    private async Task<bool> SecureDispatchAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        State.RoundStartedAt ??= now;
        State.Deadline ??= now + Spec.RoundDeadline;
        var transcript = Transcript();
        var t = State.SecurityThreshold;
        var statuses = await TolerantStatusesAsync(State.ComputeVPods, cancellationToken);
        if (transcript.Keys is null)
        {
            SecAggParticipantDto[] participants = [.. State.ComputeVPods.Select(id => new SecAggParticipantDto(id, State.Addresses[id]))];
            var request = new SecAggKeysRequest(JobId, State.Round, State.ChainId, Spec.Seed, t, participants);
            var keys = await StageAsync(State.ComputeVPods, statuses, "keys", (_, endpoint, token) => workloads.SecureKeysAsync(endpoint, request, token), _options.SecureStageTimeout, cancellationToken);
            transcript.Keys = [.. keys.Where(k => k.Key == k.Value.VPodId).OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => k.Value)];
            if (transcript.Keys.Count < t)
            {
                return await SecureAbortAsync($"{transcript.Keys.Count} of {State.ComputeVPods.Count} compute vPods advertised keys", cancellationToken);
            }

            await SaveTranscriptAsync(transcript, cancellationToken);
        }

        if (transcript.Sharers is null)
        {
            var request = new SecAggSharesRequest(JobId, State.Round, [.. transcript.Keys]);
            var shares = await StageAsync(transcript.Keys.Select(k => k.VPodId), statuses, "shares", (_, endpoint, token) => workloads.SecureSharesAsync(endpoint, request, token), _options.SecureStageTimeout, cancellationToken);
            transcript.Sharers = [.. shares.Keys.Order(StringComparer.Ordinal)];
            transcript.Inbox = [];
            foreach (var (sender, answer) in shares.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                foreach (var envelope in answer.Shares ?? [])
                {
                    if (envelope?.To is { } to && State.ComputeVPods.Contains(to, StringComparer.Ordinal))
                    {
                        (transcript.Inbox.TryGetValue(to, out var inbox) ? inbox : transcript.Inbox[to] = []).Add(new SecAggEnvelopeDto(sender, to, envelope.Ciphertext));
                    }
                }
            }

            if (transcript.Sharers.Count < t)
            {
                return await SecureAbortAsync($"{transcript.Sharers.Count} of {State.ComputeVPods.Count} compute vPods shared their secrets", cancellationToken);
            }

            await SaveTranscriptAsync(transcript, cancellationToken);
        }

        if (transcript.Masked is null)
        {
            var global = ModelDto.From(ModelEncoding.Decode(State.GlobalModel!));
            var standardization = StandardizationDto.From(State.Standardization);
            var maxSamples = State.AssignedSamples.Values.Max();
            var sharers = transcript.Sharers.ToHashSet(StringComparer.Ordinal);
            var remaining = State.Deadline.Value - time.GetUtcNow();
            var trained = await StageAsync(transcript.Sharers, statuses, "train", async (id, endpoint, token) =>
            {
                var started = time.GetTimestamp();
                var request = new SecAggTrainRequest(JobId, State.Round, State.ChainId, State.AssignedSamples[id], maxSamples, global, standardization,
                    new HyperParametersDto(Spec.LocalEpochs, Spec.BatchSize, Spec.LearningRate, FederatedSeeds.Training(Spec.Seed, State.Round, id), Spec.ProximalMu > 0 ? Spec.ProximalMu : null),
                    [.. transcript.Inbox.GetValueOrDefault(id, []).Where(e => sharers.Contains(e.From!))]);
                var answer = await workloads.SecureTrainAsync(endpoint, request, token);
                transcript.TrainingMs[id] = time.GetElapsedTime(started).TotalMilliseconds;
                return answer;
            }, remaining > TimeSpan.FromSeconds(1) ? remaining : TimeSpan.FromSeconds(1), cancellationToken);
            transcript.Masked = [];
            foreach (var (id, answer) in trained.OrderBy(a => a.Key, StringComparer.Ordinal))
            {
                var masked = new SecAggMaskedDto(answer.Receipt, answer.Masked ?? [], answer.MaskedWith ?? [], answer.MaxSamples);
                if (MaskedRefusal(id, masked, global.Weights.Length + global.Bias.Length, maxSamples) is { } reason)
                {
                    LogUpdateRejected(logger, JobId, $"{JobId}/{State.Round}/{id}", reason);
                    State.Refused[id] = reason;
                    continue;
                }

                transcript.Masked[id] = masked;
            }

            var needed = Math.Max(t, Spec.MinParticipants);
            if (transcript.Masked.Count < needed)
            {
                return await SecureAbortAsync($"{transcript.Masked.Count} of {State.ComputeVPods.Count} masked updates arrived by the round's deadline (at least {needed} are needed)", cancellationToken);
            }
        }

        State.Closed = [.. transcript.Masked.Keys.Order(StringComparer.Ordinal)];
        State.ClosedAt = time.GetUtcNow();
        State.DispatchMs = (State.ClosedAt.Value - State.RoundStartedAt.Value).TotalMilliseconds;
        State.Phase = FederatedJobStateMachine.Next(FederatedJobStateMachine.Next(State.Phase, FederatedJobTrigger.Dispatched), FederatedJobTrigger.RoundClosed);
        await SaveTranscriptAsync(transcript, cancellationToken);
        LogClosed(logger, JobId, State.Round, State.Closed.Count, State.ComputeVPods.Count);
        return true;
    }

    /// <summary>The survivors confirm the survivor set and reveal their shares; false when the round aborted.</summary>
    private async Task<bool> SecureUnmaskAsync(CancellationToken cancellationToken)
    {
        var transcript = Transcript();
        if (transcript.Reveals is not null)
        {
            return true;
        }

        var t = State.SecurityThreshold;
        await faults.BeforeUnmaskingAsync(JobId, State.Round);
        string[] survivors = [.. State.Closed];
        var statuses = await TolerantStatusesAsync(survivors, cancellationToken);
        var confirmation = new SecAggSurvivorsRequest(JobId, State.Round, survivors);
        var signed = await StageAsync(survivors, statuses, "survivors", (_, endpoint, token) => workloads.SecureSurvivorsAsync(endpoint, confirmation, token), _options.SecureStageTimeout, cancellationToken);
        if (signed.Count < t)
        {
            return await SecureAbortAsync($"{signed.Count} of the {survivors.Length} vPods whose masked updates arrived confirmed them", cancellationToken);
        }

        SecAggSignatureDto[] signatures = [.. signed.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => new SecAggSignatureDto(s.Key, s.Value.Signature))];
        var reveal = new SecAggRevealRequest(JobId, State.Round, survivors, signatures);
        var reveals = await StageAsync(signed.Keys, statuses, "reveal", (_, endpoint, token) => workloads.SecureRevealAsync(endpoint, reveal, token), _options.SecureStageTimeout, cancellationToken);
        if (reveals.Count < t)
        {
            return await SecureAbortAsync($"{reveals.Count} of the {survivors.Length} survivors revealed their shares", cancellationToken);
        }

        transcript.Survivors = [.. survivors];
        transcript.SurvivorSignatures = [.. signatures];
        transcript.Reveals = [.. reveals.Where(r => r.Key == r.Value.VPodId).OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => r.Value)];
        await SaveTranscriptAsync(transcript, cancellationToken);
        return true;
    }

    public async Task<byte[]?> GetSecureAggregateRequestAsync(int round, CancellationToken cancellationToken = default)
    {
        if (State.Spec is null || !Secure || round != State.Round || State.Phase is not (FederatedJobPhase.Aggregating or FederatedJobPhase.Finalizing)
            || Transcript() is not { Reveals: { } reveals, Masked: { } masked, Keys: { } keys, Survivors: { } survivors } transcript)
        {
            return null;
        }

        var request = new SecAggAggregateRequest(
            JobId,
            State.Round,
            State.ChainId,
            _registry ?? await RegistryAsync(cancellationToken),
            Spec.Seed,
            State.SecurityThreshold,
            ModelDto.From(ModelEncoding.Decode(State.GlobalModel!)),
            StandardizationDto.From(State.Standardization),
            [.. State.ComputeVPods.Select(id => new ParticipantDto(id, State.Addresses[id], State.AssignedSamples[id]))],
            [.. keys],
            [.. survivors],
            [.. transcript.SurvivorSignatures],
            [.. survivors.Select(id => masked[id])],
            [.. reveals],
            ServerOptimizerDto.From(Spec.ServerOptimizer),
            OptimizerStateDto.From(State.OptimizerState is { } encoded ? ServerOptimization.Decode(encoded).State : null));
        return JsonSerializer.SerializeToUtf8Bytes(request, WorkloadJson.Default.SecAggAggregateRequest);
    }

    /// <summary>Why the job refuses a masked update, or null when its receipt is the vPod's, over the masked update's encoding, with the assigned count.</summary>
    private string? MaskedRefusal(string id, SecAggMaskedDto masked, int parameters, long maxSamples)
    {
        var receipt = masked.Receipt?.ToReceipt();
        if (receipt is null || receipt.VPodId != id || receipt.Job != JobId || receipt.Round != State.Round)
        {
            return "the answer's receipt is not this vPod's for this round";
        }

        if (receipt.SampleCount != State.AssignedSamples[id])
        {
            return $"receipt claims {receipt.SampleCount} samples; the job placed {State.AssignedSamples[id]} rows with this vPod";
        }

        if (masked.Masked.Length != parameters || masked.MaxSamples != maxSamples)
        {
            return $"the masked update holds {masked.Masked.Length} values weighted against {masked.MaxSamples} samples; the model has {parameters} parameters and the largest assigned count is {maxSamples}";
        }

        if (!string.Equals(SecAggEncoding.MaskedHashHex(masked.Masked, masked.MaxSamples, masked.MaskedWith), receipt.UpdateHash, StringComparison.OrdinalIgnoreCase))
        {
            return "the receipt's update hash is not the masked update's";
        }

        return VPodTypedData.ReceiptSignedBy(receipt, State.ChainId, State.Addresses[id]) ? null : "receipt signature does not recover to the vPod's proved address";
    }

    private async Task<bool> SecureAbortAsync(string reason, CancellationToken cancellationToken)
    {
        await EndAsync(FederatedJobPhase.Failed, $"round {State.Round}: {reason}; secure aggregation needs t={State.SecurityThreshold} (the security threshold) to go on", cancellationToken);
        return false;
    }

    /// <summary>Asks each vPod at once; those not running, failing or not answering within <paramref name="timeout"/> count as dropped.</summary>
    private async Task<Dictionary<string, T>> StageAsync<T>(
        IEnumerable<string> ids,
        IReadOnlyDictionary<string, VPodStatus?> statuses,
        string stage,
        Func<string, Uri, CancellationToken, Task<T>> call,
        TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        var results = await Task.WhenAll(ids.Select(async id =>
        {
            if (statuses.GetValueOrDefault(id) is not { Endpoint: { } endpoint, Phase: VPodPhase.Running })
            {
                LogSecureDropped(logger, JobId, State.Round, id, stage, "not running");
                return (Id: id, Value: default(T), Answered: false);
            }

            try
            {
                return (Id: id, Value: await call(id, new Uri(endpoint), limit.Token), Answered: true);
            }
            catch (Exception exception) when (exception is WorkloadRequestException or HttpRequestException or TimeoutException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                LogSecureDropped(logger, JobId, State.Round, id, stage, exception.Message);
                return (Id: id, Value: default(T), Answered: false);
            }
        }));
        return results.Where(r => r.Answered).ToDictionary(r => r.Id, r => r.Value!, StringComparer.Ordinal);
    }

    private async Task<IReadOnlyDictionary<string, VPodStatus?>> TolerantStatusesAsync(IEnumerable<string> ids, CancellationToken cancellationToken)
    {
        var statuses = await Task.WhenAll(ids.Select(async id =>
        {
            try
            {
                return (Id: id, Status: (VPodStatus?)await GrainFactory.GetGrain<IVPodGrain>(id).GetStatusAsync(cancellationToken));
            }
            catch (VPodNotFoundException)
            {
                return (Id: id, Status: (VPodStatus?)null);
            }
        }));
        return statuses.ToDictionary(s => s.Id, s => s.Status, StringComparer.Ordinal);
    }
}
