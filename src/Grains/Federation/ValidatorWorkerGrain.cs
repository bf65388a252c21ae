using MetaNode.Federation;
using MetaNode.Grains.Hosting;
using MetaNode.VPods;
using MetaNode.Workloads;
using Microsoft.Extensions.Logging;
using Orleans.Streams;

namespace MetaNode.Grains.Federation;

/// <summary>A validator's persisted part in a job: the assignment (who may send updates, their addresses and assigned counts).</summary>
[GenerateSerializer, Alias("MetaNode.Federation.ValidatorWorkerState")]
public sealed class ValidatorWorkerState
{
    [Id(0)] public ValidatorAssignment? Assignment { get; set; }
}

/// <summary>
/// A validator vPod's federated behaviour in one job (key <c>{job}/{vPod}</c>). It keeps every distinct copy of every update the
/// job's stream brings (no copy is dropped before it is verified, so a forged first copy cannot hide the real one); what the stream
/// lost (a silo died) is fetched from the job. When the job closes a round it hands its workload the facts the job fixed and the
/// copies; the workload — holding the vPod's key — verifies each receipt, aggregates, evaluates on its held-out split and signs the
/// registry's digest of what it computed. This grain neither verifies for the workload nor signs.
/// </summary>
[GrainType("federated-validator")]
public sealed partial class ValidatorWorkerGrain(
    [PersistentState("validator", MetaNodeNames.ChainStorage)] IPersistentState<ValidatorWorkerState> state,
    FederatedWorkloadClient workloads,
    IFederatedFaults faults,
    TimeProvider time,
    ILogger<ValidatorWorkerGrain> logger) : Grain, IValidatorWorkerGrain
{
    /// <summary>Distinct copies kept per vPod and round: enough for a real update among forgeries, bounded against a flood.</summary>
    public const int MaxCopiesPerVPod = 4;

    // Per round: vPod id → its distinct copies, in arrival order; and the slowest stream delivery. Forgotten once a later round is aggregated.
    private readonly Dictionary<int, Dictionary<string, List<ModelUpdate>>> _received = [];
    private readonly Dictionary<int, double> _slowestDelivery = [];

    private ValidatorAssignment? Assignment => state.State.Assignment;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (Assignment is not null)
        {
            await SubscribeAsync();
        }
    }

    private string ValidatorVPodId => this.GetPrimaryKeyString()[(this.GetPrimaryKeyString().IndexOf('/', StringComparison.Ordinal) + 1)..];

    private string KeyJobId => this.GetPrimaryKeyString()[..Math.Max(0, this.GetPrimaryKeyString().IndexOf('/', StringComparison.Ordinal))];

    public async Task JoinAsync(string jobId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        if (!string.Equals(jobId, KeyJobId, StringComparison.Ordinal))
        {
            throw new InvalidJobOperationException($"validator '{this.GetPrimaryKeyString()}' belongs to job '{KeyJobId}', not '{jobId}'.");
        }

        var assignment = await GrainFactory.GetGrain<IFederatedJobGrain>(jobId).GetValidatorAssignmentAsync(ValidatorVPodId, cancellationToken)
            ?? throw new InvalidJobOperationException($"job '{jobId}' has no assignment for validator vPod '{ValidatorVPodId}'.");
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
        _received.Clear();
        _slowestDelivery.Clear();
        DeactivateOnIdle();
    }

    public async Task<ValidatorVote> AggregateAsync(string jobId, int round, CancellationToken cancellationToken = default)
    {
        using var span = MetaNodeTracing.Start("metanode.validator.aggregate", System.Diagnostics.ActivityKind.Client);
        span?.SetTag("metanode.vpod", ValidatorVPodId);
        span?.SetTag("metanode.job", jobId);
        span?.SetTag("metanode.round", round);
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        var assignment = Assignment is { } joined && joined.JobId == jobId
            ? joined
            : throw new InvalidJobOperationException($"validator '{this.GetPrimaryKeyString()}' has not joined job '{jobId}'.");
        if (await GrainFactory.GetGrain<IFederatedJobGrain>(jobId).GetSecureAggregateRequestAsync(round, cancellationToken) is { } secure)
        {
            return await SecureVoteAsync(assignment, secure, cancellationToken);
        }

        var closing = await GrainFactory.GetGrain<IFederatedJobGrain>(jobId).GetRoundClosingAsync(round, cancellationToken)
            ?? throw new InvalidJobOperationException($"job '{jobId}' has not closed round {round} (or has finalized it): there is nothing to aggregate.");
        var received = _received.GetValueOrDefault(closing.Round) ?? [];
        var updates = closing.Participants.Where(received.ContainsKey).SelectMany(id => received[id]).ToList();

        // Missing: no copy came by stream, or none of those that came is the one the job accepted (a forged copy may come
        // first while the real one is still on its way). The job's copy joins them; the workload checks every copy.
        var missing = closing.Participants.Where(id => !received.TryGetValue(id, out var copies) ||
            (closing.UpdateHashes.TryGetValue(id, out var accepted) && !copies.Any(c => string.Equals(c.Receipt.UpdateHash, accepted, StringComparison.OrdinalIgnoreCase)))).ToList();
        if (missing.Count > 0)
        {
            updates.AddRange(await GrainFactory.GetGrain<IFederatedJobGrain>(closing.JobId).GetUpdatesAsync(closing.Round, missing, cancellationToken));
        }

        var request = new AggregateRequest(
            closing.JobId,
            closing.Round,
            assignment.ChainId,
            closing.Registry,
            assignment.Aggregation.ToString(),
            ModelDto.From(closing.Global),
            StandardizationDto.From(assignment.Standardization),
            closing.Participants.Select(id => new ParticipantDto(id, assignment.ComputeAddresses[id], assignment.AssignedSamples[id])).ToArray(),
            updates.Select(u => new UpdateDto(ReceiptDto.From(u.Receipt), ModelDto.From(u.Model))).ToArray(),
            ServerOptimizerDto.From(closing.ServerOptimizer),
            OptimizerStateDto.From(closing.OptimizerState is { } encoded ? ServerOptimization.Decode(encoded).State : null));
        request = faults.ValidatorRequest(assignment.ValidatorVPodId, closing.Round, request);
        var status = await GrainFactory.GetGrain<IVPodGrain>(assignment.ValidatorVPodId).GetStatusAsync(cancellationToken);
        var endpoint = status.Endpoint ?? throw new WorkloadRequestException(status.Id, WorkloadProtocol.AggregatePath, 0, $"vPod '{status.Id}' is {status.Phase}: its workload has no endpoint");
        var answer = faults.ValidatorAnswer(assignment.ValidatorVPodId, closing.Round, await workloads.AggregateAsync(new Uri(endpoint), request, cancellationToken));
        var model = FederatedWorkloadClient.ToModel(answer.Model, new Uri(endpoint), WorkloadProtocol.AggregatePath);
        _received.Remove(closing.Round);
        foreach (var old in _received.Keys.Where(r => r < closing.Round).ToList())
        {
            _received.Remove(old);
            _slowestDelivery.Remove(old);
        }

        LogSigned(logger, assignment.ValidatorVPodId, closing.JobId, closing.Round, answer.Participants.Length, missing.Count, answer.ResultHash);
        return Vote(assignment.ValidatorVPodId, answer, model, closing.ServerOptimizer) with { SlowestDeliveryMs = _slowestDelivery.GetValueOrDefault(closing.Round) };
    }

    /// <summary>
    /// A secure round: the job's transcript goes to the workload whole (keys, masked updates, signatures, revealed shares — never a
    /// single participant's update in the clear), and the workload checks it, unmasks the sum, evaluates and signs.
    /// </summary>
    private async Task<ValidatorVote> SecureVoteAsync(ValidatorAssignment assignment, byte[] transcript, CancellationToken cancellationToken)
    {
        var request = System.Text.Json.JsonSerializer.Deserialize(transcript, WorkloadJson.Default.SecAggAggregateRequest)
            ?? throw new InvalidJobOperationException($"job '{assignment.JobId}' handed validator '{assignment.ValidatorVPodId}' an empty secure round.");
        var status = await GrainFactory.GetGrain<IVPodGrain>(assignment.ValidatorVPodId).GetStatusAsync(cancellationToken);
        var endpoint = status.Endpoint ?? throw new WorkloadRequestException(status.Id, SecureAggregationPaths.Aggregate, 0, $"vPod '{status.Id}' is {status.Phase}: its workload has no endpoint");
        var answer = await workloads.SecureAggregateAsync(new Uri(endpoint), request, cancellationToken);
        var model = FederatedWorkloadClient.ToModel(answer.Model, new Uri(endpoint), SecureAggregationPaths.Aggregate);
        LogSigned(logger, assignment.ValidatorVPodId, request.Job, request.Round, answer.Participants.Length, 0, answer.ResultHash);
        return Vote(assignment.ValidatorVPodId, answer, model, request.ServerOptimizer?.ToOptimizer());
    }

    /// <summary>The vote of what the workload computed and signed.</summary>
    private static ValidatorVote Vote(string validatorVPodId, AggregateResponse answer, FederatedModel model, ServerOptimizer? optimizer) => new()
    {
        OptimizerState = optimizer is { HasState: true } && answer.OptimizerState is { Momentum: { } momentum } state
            ? TryEncode(optimizer, new ServerOptimizerState(momentum, state.SecondMoment))
            : null,
        StateHash = answer.StateHash,
        StateSignature = answer.StateSignature,
        ValidatorVPodId = validatorVPodId,
        Signer = answer.Signer,
        Signature = answer.Signature,
        ResultHash = answer.ResultHash,
        ReceiptsRoot = answer.ReceiptsRoot,
        ModelRef = answer.ModelRef,
        Participants = answer.Participants,
        TotalSamples = answer.TotalSamples,
        Rejected = answer.Rejected.Select(r => new RejectedUpdate(r.VPodId, r.Reason)).ToList(),
        Model = ModelEncoding.Encode(model),
        Evaluation = answer.Evaluation is { } e ? new RoundEvaluation(validatorVPodId, e.Accuracy, e.Loss, e.SampleCount) : null,
    };

    /// <summary>The state's canonical encoding, or null when the workload returned one that does not fit (the job then refuses the vote).</summary>
    private static byte[]? TryEncode(ServerOptimizer optimizer, ServerOptimizerState state)
    {
        try
        {
            return ServerOptimization.Encode(optimizer, state);
        }
        catch (ArgumentException)
        {
            return null;
        }
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
        var update = item.Update;
        var round = update.Receipt.Round;
        if (Assignment is not { } assignment || !assignment.ComputeAddresses.ContainsKey(update.Receipt.VPodId))
        {
            return Task.CompletedTask;
        }

        if (!_received.TryGetValue(round, out var byVPod))
        {
            byVPod = new Dictionary<string, List<ModelUpdate>>(StringComparer.Ordinal);
            _received[round] = byVPod;
        }

        if (!byVPod.TryGetValue(update.Receipt.VPodId, out var copies))
        {
            copies = [];
            byVPod[update.Receipt.VPodId] = copies;
        }

        switch (UpdateCopies.Add(copies, update, MaxCopiesPerVPod, copy => SignedByItsVPod(assignment, copy)))
        {
            case CopyOutcome.Duplicate:
                LogDuplicate(logger, assignment.ValidatorVPodId, item.EventId);
                break;
            case CopyOutcome.Dropped:
                LogTooManyCopies(logger, assignment.ValidatorVPodId, item.EventId, MaxCopiesPerVPod);
                break;
        }

        var delivery = (time.GetUtcNow() - item.PublishedAt).TotalMilliseconds;
        _slowestDelivery[round] = Math.Max(_slowestDelivery.GetValueOrDefault(round), delivery);
        return Task.CompletedTask;
    }

    private static bool SignedByItsVPod(ValidatorAssignment assignment, ModelUpdate update) =>
        MetaNode.Chain.VPodTypedData.ReceiptSignedBy(update.Receipt, assignment.ChainId, assignment.ComputeAddresses[update.Receipt.VPodId]);
}
