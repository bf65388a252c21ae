using System.Security.Cryptography;
using MetaNode.Federation;
using MetaNode.Grains.Hosting;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;
using MetaNode.Grains.Chain;
using Orleans.Streams;
using ChainRoundResult = MetaNode.Chain.RoundResult;

namespace MetaNode.Grains.Federation;

/// <summary>A validator's persisted part in a job: the assignment (who may send updates, the standardization).</summary>
[GenerateSerializer, Alias("MetaNode.Federation.ValidatorWorkerState")]
public sealed class ValidatorWorkerState
{
    [Id(0)] public ValidatorAssignment? Assignment { get; set; }
}

/// <summary>
/// A validator vPod's federated behaviour in one job (key <c>{job}/{vPod}</c>). Updates arrive on the job's stream and are
/// counted once per <c>(job, round, vPod)</c>; what the stream lost (a silo died) is fetched from the job, which persisted it.
/// When the job closes a round it verifies each receipt's signer, aggregates the participants in canonical order, evaluates
/// the model on its held-out split (its workload's <c>/v1/evaluate</c>), hashes the canonical encoding and signs the
/// registry's EIP-712 digest with its vPod key.
/// </summary>
[GrainType("federated-validator")]
public sealed partial class ValidatorWorkerGrain(
    [PersistentState("validator", MetaNodeNames.ChainStorage)] IPersistentState<ValidatorWorkerState> state,
    FederatedWorkloadClient workloads,
    IFederatedFaults faults,
    TimeProvider time,
    ILogger<ValidatorWorkerGrain> logger) : Grain, IValidatorWorkerGrain
{
    private readonly Dictionary<int, Dictionary<string, ModelUpdate>> _received = [];
    // Everything below is kept per round and forgotten once a later round is aggregated.
    private readonly Dictionary<int, HashSet<string>> _seen = [];
    private readonly Dictionary<int, double> _slowestDelivery = [];

    // Evaluations started when a round's vote was signed, by round, with the model bytes they evaluate.
    private readonly Dictionary<int, (byte[] Model, Task<RoundEvaluation> Evaluation)> _evaluations = [];

    // Receipt signatures checked as updates arrive, on the thread pool (off the round's critical path and the grain's turn), by receipt hash and signature.
    private readonly Dictionary<int, Dictionary<string, Task<bool>>> _verified = [];

    private ValidatorAssignment? Assignment => state.State.Assignment;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (Assignment is not null)
        {
            await SubscribeAsync();
        }
    }

    public async Task JoinAsync(ValidatorAssignment assignment, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(assignment);
        if (Assignment != assignment)
        {
            state.State.Assignment = assignment;
            await state.WriteStateAsync(cancellationToken);
        }

        await SubscribeAsync();
    }

    public async Task LeaveAsync(CancellationToken cancellationToken = default)
    {
        if (Assignment is { } assignment)
        {
            foreach (var handle in await Stream(assignment.JobId).GetAllSubscriptionHandles())
            {
                await handle.UnsubscribeAsync();
            }
        }

        await state.ClearStateAsync(cancellationToken);
        ForgetRoundsBefore(int.MaxValue);
        DeactivateOnIdle();
    }

    private void ForgetRoundsBefore(int round)
    {
        Forget(_received);
        Forget(_seen);
        Forget(_verified);
        Forget(_slowestDelivery);
        Forget(_evaluations);

        void Forget<T>(Dictionary<int, T> perRound)
        {
            foreach (var old in perRound.Keys.Where(r => r < round).ToList())
            {
                perRound.Remove(old);
            }
        }
    }

    private static T PerRound<T>(Dictionary<int, T> perRound, int round, Func<T> create)
    {
        if (!perRound.TryGetValue(round, out var value))
        {
            value = create();
            perRound[round] = value;
        }

        return value;
    }

    public async Task<ValidatorVote> AggregateAsync(RoundClosing closing, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(closing);
        var assignment = Assignment ?? throw new InvalidJobOperationException($"validator '{this.GetPrimaryKeyString()}' has not joined job '{closing.JobId}'.");
        var received = _received.GetValueOrDefault(closing.Round) ?? [];
        var updates = closing.Participants.Where(received.ContainsKey).Select(id => received[id]).ToList();
        var missing = closing.Participants.Where(id => !received.ContainsKey(id)).ToList();
        if (missing.Count > 0)
        {
            updates.AddRange(await GrainFactory.GetGrain<IFederatedJobGrain>(closing.JobId).GetUpdatesAsync(closing.Round, missing, cancellationToken));
        }

        await Task.WhenAll(updates.Select(u => Verify(assignment, u.Receipt)));
        var aggregate = RoundAggregator.Aggregate(
            closing.JobId,
            closing.Round,
            closing.Global,
            updates,
            assignment.Aggregation,
            minParticipants: 1,
            verifySignature: receipt => Verify(assignment, receipt).Result);
        if (!aggregate.Succeeded)
        {
            throw new InvalidJobOperationException($"round {closing.Round} of job '{closing.JobId}': no update could be aggregated ({string.Join("; ", aggregate.Rejected.Select(r => $"{r.VPodId}: {r.Reason}"))}).");
        }

        var bytes = ModelEncoding.Encode(aggregate.Model!);
        var modelRef = FederationHashing.ToHex(SHA256.HashData(bytes));
        var resultHash = faults.SignedResultHash(assignment.ValidatorVPodId, closing.Round, aggregate.ModelHash);
        var vpod = GrainFactory.GetGrain<IVPodGrain>(assignment.ValidatorVPodId);

        // The signature covers the result, not the accuracy: the evaluation starts now and the vote does not wait for it
        // (the job collects it while the round is finalized on chain).
        var evaluation = EvaluateAsync(assignment, closing.Round, aggregate.Model!);
        _ = evaluation.ContinueWith(
            t => LogEvaluationFailed(logger, t.Exception!.GetBaseException(), assignment.ValidatorVPodId, closing.JobId, closing.Round),
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        _evaluations[closing.Round] = (bytes, evaluation);
        var signature = await vpod.SignRoundResultAsync(new ChainRoundResult
        {
            JobId = closing.JobId,
            Round = closing.Round,
            ResultHash = resultHash,
            ReceiptsRoot = aggregate.ReceiptsRoot,
            ModelRef = modelRef,
        }, cancellationToken);

        ForgetRoundsBefore(closing.Round);

        LogSigned(logger, assignment.ValidatorVPodId, closing.JobId, closing.Round, aggregate.Participants.Count, missing.Count, resultHash);
        return new ValidatorVote
        {
            ValidatorVPodId = assignment.ValidatorVPodId,
            Signer = signature.Signer,
            Signature = signature.Signature,
            ResultHash = resultHash,
            ReceiptsRoot = aggregate.ReceiptsRoot,
            ModelRef = modelRef,
            Participants = aggregate.Participants,
            TotalSamples = aggregate.TotalSamples,
            Rejected = aggregate.Rejected,
            Model = bytes,
            SlowestDeliveryMs = _slowestDelivery.GetValueOrDefault(closing.Round),
        };
    }

    public async Task<RoundEvaluation> GetEvaluationAsync(int round, byte[] model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var assignment = Assignment ?? throw new InvalidJobOperationException($"validator '{this.GetPrimaryKeyString()}' has not joined a job.");
        if (_evaluations.TryGetValue(round, out var started) && started.Model.AsSpan().SequenceEqual(model))
        {
            return await started.Evaluation;
        }

        return await EvaluateAsync(assignment, round, ModelEncoding.Decode(model));
    }

    /// <summary>Accuracy and loss of the model on the validator's held-out split, through its workload's <c>/v1/evaluate</c>.</summary>
    private async Task<RoundEvaluation> EvaluateAsync(ValidatorAssignment assignment, int round, FederatedModel model)
    {
        var status = await GrainFactory.GetGrain<IVPodGrain>(assignment.ValidatorVPodId).GetStatusAsync();
        var endpoint = status.Endpoint ?? throw new WorkloadRequestException(status.Id, "/v1/evaluate", 0, $"vPod '{status.Id}' is {status.Phase}: its workload has no endpoint");
        var evaluation = await workloads.EvaluateAsync(new Uri(endpoint), assignment.JobId, round, model, assignment.Standardization, PartitionWriter.TestSplit, CancellationToken.None);
        return new RoundEvaluation(assignment.ValidatorVPodId, evaluation.Accuracy, evaluation.Loss, evaluation.SampleCount);
    }

    private Task<bool> Verify(ValidatorAssignment assignment, TrainingReceipt receipt)
    {
        var key = ReceiptHashing.HashHex(receipt) + "|" + receipt.Signature;
        var round = PerRound(_verified, receipt.Round, () => new Dictionary<string, Task<bool>>(StringComparer.Ordinal));
        if (!round.TryGetValue(key, out var verified))
        {
            verified = Task.Run(() => SignedByItsVPod(assignment, receipt));
            round[key] = verified;
        }

        return verified;
    }

    /// <summary>The receipt's EIP-191 signature over its canonical hash recovers to the compute vPod's address.</summary>
    internal static bool SignedByItsVPod(ValidatorAssignment assignment, TrainingReceipt receipt)
    {
        if (receipt.Signature is not { } signature || !assignment.ComputeAddresses.TryGetValue(receipt.VPodId, out var address))
        {
            return false;
        }

        byte[] digest;
        try
        {
            digest = EthereumSignatures.PersonalMessageDigest(ReceiptHashing.Hash(receipt));
        }
        catch (Exception exception) when (exception is FormatException or ArgumentException)
        {
            // A receipt that cannot be hashed (a malformed update hash, a negative count) is signed by no one.
            return false;
        }

        var bytes = EthereumSignatures.ParseSignature(signature);
        var signer = bytes is null ? null : EthereumSignatures.RecoverAddress(digest, bytes);
        return signer is not null && string.Equals(signer, address, StringComparison.OrdinalIgnoreCase);
    }

    private IAsyncStream<FederatedUpdateEvent> Stream(string jobId) =>
        this.GetStreamProvider(MetaNodeNames.StreamProvider).GetStream<FederatedUpdateEvent>(StreamId.Create(FederationStreams.Updates, jobId));

    private async Task SubscribeAsync()
    {
        var stream = Stream(Assignment!.JobId);
        var handles = await stream.GetAllSubscriptionHandles();
        if (handles.Count == 0)
        {
            await stream.SubscribeAsync(OnUpdateAsync);
            return;
        }

        foreach (var handle in handles)
        {
            await handle.ResumeAsync(OnUpdateAsync);
        }
    }

    private Task OnUpdateAsync(FederatedUpdateEvent item, StreamSequenceToken? token)
    {
        var round = item.Update.Receipt.Round;
        if (!PerRound(_seen, round, () => new HashSet<string>(StringComparer.Ordinal)).Add(item.EventId))
        {
            LogDuplicate(logger, Assignment?.ValidatorVPodId ?? "?", item.EventId);
            return Task.CompletedTask;
        }

        PerRound(_received, round, () => new Dictionary<string, ModelUpdate>(StringComparer.Ordinal))[item.Update.Receipt.VPodId] = item.Update;
        if (Assignment is { } assignment)
        {
            _ = Verify(assignment, item.Update.Receipt);
        }

        var delivery = (time.GetUtcNow() - item.PublishedAt).TotalMilliseconds;
        _slowestDelivery[round] = Math.Max(_slowestDelivery.GetValueOrDefault(round), delivery);
        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Validator vPod {VPodId} signed job {JobId} round {Round}: {Participants} updates aggregated ({Fetched} fetched from the job, missed on the stream), result {ResultHash}")]
    private static partial void LogSigned(ILogger logger, string vpodId, string jobId, int round, int participants, int fetched, string resultHash);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Validator vPod {VPodId} could not evaluate job {JobId} round {Round} on its held-out split; the job asks another validator")]
    private static partial void LogEvaluationFailed(ILogger logger, Exception exception, string vpodId, string jobId, int round);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Validator vPod {VPodId} ignored update {EventId}: already received")]
    private static partial void LogDuplicate(ILogger logger, string vpodId, string eventId);
}
