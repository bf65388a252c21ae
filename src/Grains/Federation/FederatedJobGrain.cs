using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using MetaNode.Chain;
using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.Grains.Chain;
using MetaNode.Grains.Hosting;
using MetaNode.Grains.VPods;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ChainRoundResult = MetaNode.Chain.RoundResult;
using RoundResult = MetaNode.Federation.RoundResult;

namespace MetaNode.Grains.Federation;

/// <summary>
/// One federated-average job. The phase decisions are <see cref="FederatedJobStateMachine"/>'s; this grain applies them,
/// persists, then acts: it partitions the data into the vPods' data directories, standardizes features from the compute
/// vPods' sums and counts, and per round dispatches the global model, collects updates (persisted as they arrive), closes
/// the round, has the validators aggregate and sign, finalizes k agreeing signatures on chain once through the operator's
/// account grain, and advances when the finalization is confirmed. A grain timer drives it (deadlines are persisted);
/// a reminder re-activates it after a silo loss, and it resumes from the persisted phase.
/// </summary>
[GrainType("federated-job")]
public sealed partial class FederatedJobGrain : Grain, IFederatedJobGrain, IRemindable
{
    private const string KeepAliveReminder = "keep-alive";
    private static readonly Regex JobIdPattern = new("^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$", RegexOptions.CultureInvariant);

    private readonly IPersistentState<FederatedJobState> _state;
    private readonly FederatedWorkloadClient _workloads;
    private readonly ChainAccounts _accounts;
    private readonly ChainConnector _connector;
    private readonly TimeProvider _time;
    private readonly FederatedJobOptions _options;
    private readonly DatasetOptions _datasets;
    private readonly IFederatedFaults _faults;
    private readonly MetaNodeMetrics _metrics;
    private readonly ILogger<FederatedJobGrain> _logger;
    private IGrainTimer? _pump;

    // The current round's trace (one per round, ended when the round is confirmed or the job ends); its stages are children.
    private Activity? _roundSpan;
    private bool _inStep;
    private DateTimeOffset? _dispatchedAt;
    private DateTimeOffset? _failingSince;
    private DateTimeOffset _retryAt;

    // Updates received since the last write: they are written while the round waits and when it closes, not one write per update.
    private bool _updatesUnsaved;

    // The agreed votes, written while the chain finalizes them: a job that dies first aggregates again (the same votes) and the
    // account grain reports the round as already finalized, so nothing is sent twice.
    private bool _votesUnsaved;

    // The registry the current round's validators sign for (read when the round is aggregated).
    private string? _registry;

    public FederatedJobGrain(
        [PersistentState("job", MetaNodeNames.ChainStorage)] IPersistentState<FederatedJobState> state,
        FederatedWorkloadClient workloads,
        ChainAccounts accounts,
        ChainConnector connector,
        TimeProvider time,
        IOptions<FederatedJobOptions> options,
        IOptions<DatasetOptions> datasets,
        IFederatedFaults faults,
        MetaNodeMetrics metrics,
        ILogger<FederatedJobGrain> logger)
    {
        _metrics = metrics;
        _state = state;
        _workloads = workloads;
        _accounts = accounts;
        _connector = connector;
        _time = time;
        _options = options.Value;
        _datasets = datasets.Value;
        _faults = faults;
        _logger = logger;
    }

    private string JobId => this.GetPrimaryKeyString();

    private FederatedJobState State => _state.State;

    private FederatedJobSpec Spec => State.Spec!;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (State.Spec is not null && FederatedJobStateMachine.IsActive(State.Phase))
        {
            StartPump();
        }

        return Task.CompletedTask;
    }

    public async Task<FederatedJobStatus> StartAsync(FederatedJobSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (State.Spec is not null)
        {
            return State.Spec == spec
                ? Status()
                : throw new InvalidJobOperationException($"job '{JobId}' already exists with another spec: choose another job id.");
        }

        var (compute, validators, addresses, threshold) = await CheckAsync(spec, cancellationToken);
        var now = _time.GetUtcNow();
        State.Spec = spec;
        State.Phase = FederatedJobPhase.Preparing;
        State.ComputeVPods = compute;
        State.ValidatorVPods = validators;
        State.Addresses = addresses;
        State.SecurityThreshold = threshold;
        State.CreatedAt = now;
        State.UpdatedAt = now;
        await _state.WriteStateAsync(cancellationToken);
        await this.RegisterOrUpdateReminder(KeepAliveReminder, _options.KeepAlivePeriod, _options.KeepAlivePeriod);
        await PublishSummaryAsync(cancellationToken);
        LogStarted(_logger, JobId, spec.Dataset, compute.Count, validators.Count, spec.Rounds, spec.Quorum);
        StartPump();
        return Status();
    }

    public Task<FederatedJobStatus> GetStatusAsync(CancellationToken cancellationToken = default) =>
        State.Spec is null ? throw new JobNotFoundException(JobId) : Task.FromResult(Status());

    public async Task<FederatedJobStatus> CancelAsync(CancellationToken cancellationToken = default)
    {
        if (State.Spec is null)
        {
            throw new JobNotFoundException(JobId);
        }

        await EndAsync(FederatedJobStateMachine.Next(State.Phase, FederatedJobTrigger.Cancel), "cancelled", cancellationToken);
        return Status();
    }

    public Task SubmitUpdateAsync(FederatedUpdateEvent update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        var receipt = update.Update.Receipt;
        if (State.Spec is null || !string.Equals(receipt.Job, JobId, StringComparison.Ordinal) || receipt.Round != State.Round
            || State.Phase is not (FederatedJobPhase.Dispatching or FederatedJobPhase.Training)
            || !State.ComputeVPods.Contains(receipt.VPodId, StringComparer.Ordinal))
        {
            LogUpdateIgnored(_logger, JobId, update.EventId, State.Phase, State.Round);
            return Task.CompletedTask;
        }

        if (State.Updates.ContainsKey(receipt.VPodId))
        {
            return Task.CompletedTask;
        }

        if (Refusal(update.Update) is { } reason)
        {
            // Checked before it can take the vPod's place: a forged copy that arrives first does not hide the real one.
            LogUpdateRejected(_logger, JobId, update.EventId, reason);
            State.Refused[receipt.VPodId] = reason;
            _updatesUnsaved = true;
            return Task.CompletedTask;
        }

        if (State.Updates.TryAdd(receipt.VPodId, update))
        {
            _updatesUnsaved = true;
            if (State.Updates.Count >= State.ComputeVPods.Count)
            {
                _pump?.Change(TimeSpan.Zero, _options.PumpInterval);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Why the job refuses an update, or null when the receipt carries the count the job assigned, hashes the model, and its
    /// signature recovers to the vPod's proved address.
    /// </summary>
    private string? Refusal(ModelUpdate update)
    {
        var receipt = update.Receipt;
        if (!State.AssignedSamples.TryGetValue(receipt.VPodId, out var assigned) || !State.Addresses.TryGetValue(receipt.VPodId, out var address))
        {
            return "not a participant of this job";
        }

        if (receipt.SampleCount != assigned)
        {
            return $"receipt claims {receipt.SampleCount} samples; the job placed {assigned} rows with this vPod";
        }

        if (State.GlobalModel is { Length: >= ModelEncoding.HeaderLength } global
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

        return VPodTypedData.ReceiptSignedBy(receipt, State.ChainId, address) ? null : "receipt signature does not recover to the vPod's proved address";
    }

    public Task<SignedRound?> GetSignedRoundAsync(int round, CancellationToken cancellationToken = default)
    {
        if (State.Spec is null)
        {
            throw new JobNotFoundException(JobId);
        }

        SignedRound? signed = State.Results.FirstOrDefault(r => r.Round == round) is { } result
            ? new SignedRound(new ChainRoundResult { JobId = JobId, Round = round, ResultHash = result.ResultHash, ReceiptsRoot = result.ReceiptsRoot, ModelRef = result.ModelRef ?? string.Empty, ModelCid = result.ModelCid ?? string.Empty }, result.Signatures)
            : round == State.Round && State.Votes.Count > 0
                ? new SignedRound(ToChain(State.Votes[0]), Signatures(State.Votes))
                : null;
        return Task.FromResult(signed);
    }

    private static List<ValidatorSignature> Signatures(IEnumerable<ValidatorVote> votes) =>
        votes.Select(v => new ValidatorSignature(v.Signer, v.Signature, v.ValidatorVPodId)).ToList();

    public Task<IReadOnlyList<ModelUpdate>> GetUpdatesAsync(int round, IReadOnlyList<string> vpodIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vpodIds);
        IReadOnlyList<ModelUpdate> updates = round != State.Round
            ? []
            : vpodIds.Where(State.Updates.ContainsKey).Select(id => State.Updates[id].Update).ToList();
        return Task.FromResult(updates);
    }

    public Task<byte[]?> GetModelAsync(int round, CancellationToken cancellationToken = default) =>
        State.Results.FirstOrDefault(r => r.Round == round) is { ModelRef: { } reference }
            ? GrainFactory.GetGrain<IFederatedModelGrain>(reference).GetAsync(cancellationToken)
            : Task.FromResult<byte[]?>(null);

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (State.Spec is not null && FederatedJobStateMachine.IsActive(State.Phase))
        {
            StartPump();
        }

        return Task.CompletedTask;
    }

    private void StartPump()
    {
        _pump ??= this.RegisterGrainTimer(PumpAsync, new GrainTimerCreationOptions { DueTime = TimeSpan.Zero, Period = _options.PumpInterval, Interleave = false });
    }

    private async Task PumpAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (now < _retryAt)
        {
            return;
        }

        try
        {
            while (FederatedJobStateMachine.IsActive(State.Phase) && await StepAsync(cancellationToken))
            {
                _failingSince = null;
            }

            _failingSince = null;
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            if (State.Phase == FederatedJobPhase.Finalizing)
            {
                _metrics.FinalizationFailed();
            }

            _failingSince ??= now;
            _retryAt = now + _options.StepRetryDelay;
            LogStepFailed(_logger, exception, JobId, State.Phase, State.Round, (now - _failingSince.Value).TotalSeconds, _options.StepRetryTimeout.TotalSeconds);
            if (now - _failingSince.Value >= _options.StepRetryTimeout && FederatedJobStateMachine.IsActive(State.Phase))
            {
                await EndAsync(FederatedJobPhase.Failed, $"round {State.Round}, {State.Phase}: {exception.Message}", CancellationToken.None);
            }
        }
    }

    /// <summary>Runs the current phase's step (a span of the round's trace); true when the phase changed and the next step can run at once.</summary>
    private async Task<bool> StepAsync(CancellationToken cancellationToken)
    {
        using var scope = _logger.BeginRound(JobId, State.Round);
        var round = State.Round;
        var span = StageSpan();
        _inStep = true;
        try
        {
            return await RunStepAsync(cancellationToken);
        }
        catch (Exception exception)
        {
            span?.SetStatus(ActivityStatusCode.Error, exception.Message);
            throw;
        }
        finally
        {
            _inStep = false;
            span?.Dispose();

            // The round confirmed (or the job ended): its trace ends with the stage that ended it.
            if (State.Round != round || !FederatedJobStateMachine.IsActive(State.Phase))
            {
                EndRoundSpan(State.Phase == FederatedJobPhase.Failed ? State.Reason : null);
            }
        }
    }

    /// <summary>
    /// The stage's span under the round's root span (started with the round's dispatch). Waiting for updates is not a stage
    /// span (it ticks with the pump); training it asks for again is (<c>metanode.round.redispatch</c>).
    /// </summary>
    private Activity? StageSpan()
    {
        var stage = State.Phase switch
        {
            FederatedJobPhase.Dispatching => "metanode.round.dispatch",
            FederatedJobPhase.Aggregating => "metanode.round.aggregate",
            FederatedJobPhase.Finalizing => "metanode.round.finalize",
            _ => null,
        };
        if (stage is null)
        {
            return null;
        }

        var span = MetaNodeTracing.StartChild(stage, RoundSpan()?.Context ?? default);
        span?.SetTag("metanode.job", JobId);
        span?.SetTag("metanode.round", State.Round);
        return span;
    }

    /// <summary>The current round's root span, started when first needed (a job resumed mid-round starts a new one).</summary>
    private Activity? RoundSpan()
    {
        if (_roundSpan is null || !Equals(_roundSpan.GetTagItem("metanode.round"), State.Round))
        {
            EndRoundSpan(null);
            _roundSpan = MetaNodeTracing.StartRoot("metanode.round", ("metanode.job", JobId), ("metanode.round", State.Round));
        }

        return _roundSpan;
    }

    private void EndRoundSpan(string? error)
    {
        if (error is not null)
        {
            _roundSpan?.SetStatus(ActivityStatusCode.Error, error);
        }

        _roundSpan?.Dispose();
        _roundSpan = null;
    }

    private async Task<bool> RunStepAsync(CancellationToken cancellationToken) => State.Phase switch
    {
        FederatedJobPhase.Preparing => await PrepareAsync(cancellationToken),
        FederatedJobPhase.Dispatching => await DispatchAsync(cancellationToken),
        FederatedJobPhase.Training => await CollectAsync(cancellationToken),
        FederatedJobPhase.Aggregating => await AggregateAsync(cancellationToken),
        FederatedJobPhase.Finalizing => await FinalizeAsync(cancellationToken),
        _ => false,
    };

    private async Task<bool> PrepareAsync(CancellationToken cancellationToken)
    {
        var data = await LoadDatasetAsync(Spec, cancellationToken);
        var placement = FederatedDataPlacement.Place(Spec, data, State.ComputeVPods, State.ValidatorVPods);

        // Each workload receives its partition through the workload protocol, on whatever runtime it runs.
        var statuses = await VPodStatusesAsync(State.ComputeVPods.Concat(State.ValidatorVPods), cancellationToken);
        await Task.WhenAll(placement.Files.Select(p => _workloads.PlaceDataAsync(Endpoint(statuses[p.Key]), p.Value, cancellationToken)));
        State.AssignedSamples = placement.TrainRows.ToDictionary(p => p.Key, p => (long)p.Value, StringComparer.Ordinal);
        State.ChainId = await _connector.GetChainIdAsync(cancellationToken);

        // Federated standardization: each compute vPod reveals its sums and counts, never rows.
        var moments = await Task.WhenAll(State.ComputeVPods.Select(id => _workloads.GetStatisticsAsync(Endpoint(statuses[id]), PartitionWriter.TrainSplit, cancellationToken)));
        State.Standardization = StandardizationCombiner.Combine(moments);
        State.GlobalModel = ModelEncoding.Encode(FederatedModel.Zero(data.Classes, data.Features));
        // Each validator asks this job for its assignment (GetValidatorAssignmentAsync): nobody else can hand it other facts.
        await Task.WhenAll(State.ValidatorVPods.Select(id => GrainFactory.GetGrain<IValidatorWorkerGrain>(ValidatorKey(id)).JoinAsync(JobId, cancellationToken)));
        State.Round = 1;
        State.Phase = FederatedJobStateMachine.Next(State.Phase, FederatedJobTrigger.Prepared);
        await SaveAsync(cancellationToken);
        LogPrepared(_logger, JobId, placement.TrainRows.Count, placement.TestRows);
        return true;
    }

    private async Task<bool> DispatchAsync(CancellationToken cancellationToken)
    {
        if (Secure)
        {
            return await SecureDispatchAsync(cancellationToken);
        }

        // Training calls are one-way, so the write below overlaps the vPods' training. A job that dies before the write resumes
        // in Dispatching and sends the work again; training is deterministic for the round and vPod, and an update counts once.
        var now = _time.GetUtcNow();
        State.RoundStartedAt ??= now;
        State.Deadline ??= now + Spec.RoundDeadline;
        await SendTrainingAsync();
        _dispatchedAt = _time.GetUtcNow();
        State.DispatchMs = (_dispatchedAt.Value - State.RoundStartedAt.Value).TotalMilliseconds;
        State.Phase = FederatedJobStateMachine.Next(State.Phase, FederatedJobTrigger.Dispatched);
        await SaveAsync(cancellationToken);
        return true;
    }

    /// <summary>Tells the compute vPods that have not answered to train; each fetches its assignment from this job.</summary>
    private Task SendTrainingAsync() =>
        Task.WhenAll(State.ComputeVPods.Where(id => !State.Updates.ContainsKey(id))
            .Select(id => GrainFactory.GetGrain<IComputeWorkerGrain>(id).TrainAsync(JobId, State.Round)));

    public Task<TrainingAssignment?> GetTrainingAssignmentAsync(string vpodId, int round, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vpodId);
        TrainingAssignment? assignment = State.Spec is not null && round == State.Round && State.GlobalModel is not null
            && State.Phase is FederatedJobPhase.Dispatching or FederatedJobPhase.Training
            && State.AssignedSamples.TryGetValue(vpodId, out var assigned)
            ? new TrainingAssignment
            {
                JobId = JobId,
                Round = State.Round,
                Global = ModelEncoding.Decode(State.GlobalModel),
                Standardization = State.Standardization,
                LocalEpochs = Spec.LocalEpochs,
                BatchSize = Spec.BatchSize,
                LearningRate = Spec.LearningRate,
                Seed = Spec.Seed,
                ChainId = State.ChainId,
                AssignedSamples = assigned,
                ProximalMu = Spec.ProximalMu,
            }
            : null;
        return Task.FromResult(assignment);
    }

    public Task<ValidatorAssignment?> GetValidatorAssignmentAsync(string validatorVPodId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(validatorVPodId);
        ValidatorAssignment? assignment = State.Spec is not null && State.Standardization is not null && State.ValidatorVPods.Contains(validatorVPodId, StringComparer.Ordinal)
            && FederatedJobStateMachine.IsActive(State.Phase)
            ? new ValidatorAssignment
            {
                JobId = JobId,
                ValidatorVPodId = validatorVPodId,
                ComputeAddresses = State.ComputeVPods.ToDictionary(c => c, c => State.Addresses[c], StringComparer.Ordinal),
                Standardization = State.Standardization,
                Aggregation = Spec.Robust,
                AssignedSamples = State.AssignedSamples,
                ChainId = State.ChainId,
            }
            : null;
        return Task.FromResult(assignment);
    }

    public async Task<RoundClosing?> GetRoundClosingAsync(int round, CancellationToken cancellationToken = default)
    {
        if (State.Spec is null || round != State.Round || State.Phase is not (FederatedJobPhase.Aggregating or FederatedJobPhase.Finalizing) || State.GlobalModel is null)
        {
            return null;
        }

        return new RoundClosing
        {
            JobId = JobId,
            Round = State.Round,
            Participants = State.Closed,
            UpdateHashes = State.Closed.Where(State.Updates.ContainsKey).ToDictionary(id => id, id => State.Updates[id].Update.Receipt.UpdateHash, StringComparer.Ordinal),
            Global = ModelEncoding.Decode(State.GlobalModel),
            MinParticipants = Spec.MinParticipants,
            Registry = _registry ?? await RegistryAsync(cancellationToken),
            ServerOptimizer = Spec.ServerOptimizer,
            OptimizerState = State.OptimizerState,
        };
    }

    private async Task<bool> CollectAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (_dispatchedAt is not { } dispatched || now - dispatched >= _options.RedispatchInterval)
        {
            // Resumed after a loss, or a vPod is late: whoever has not answered is asked again
            // (training is deterministic for the round and vPod, and a repeated update counts once); in the round's trace.
            _dispatchedAt = now;
            using var span = MetaNodeTracing.StartChild("metanode.round.redispatch", RoundSpan()?.Context ?? default);
            span?.SetTag("metanode.job", JobId);
            span?.SetTag("metanode.round", State.Round);
            await SendTrainingAsync();
        }

        var decision = FederatedJobStateMachine.DecideClose(State.ComputeVPods.Count, State.Updates.Count, Spec.MinParticipants, now >= State.Deadline);
        if (decision.Action != RoundCloseAction.Wait && now >= State.Deadline && State.Updates.Count < State.ComputeVPods.Count)
        {
            _metrics.RoundDeadlineExceeded();
        }

        switch (decision.Action)
        {
            case RoundCloseAction.Wait:
                if (_updatesUnsaved)
                {
                    // A long round keeps what arrived so far: a silo lost now costs only the updates of the last pump interval.
                    await SaveAsync(cancellationToken);
                }

                return false;
            case RoundCloseAction.Fail:
                await EndAsync(FederatedJobPhase.Failed, $"round {State.Round}: {decision.Reason}", cancellationToken);
                return false;
        }

        State.Closed = State.Updates.Keys.Order(StringComparer.Ordinal).ToList();
        State.ClosedAt = now;
        State.Phase = FederatedJobStateMachine.Next(State.Phase, FederatedJobTrigger.RoundClosed);
        await SaveAsync(cancellationToken);
        LogClosed(_logger, JobId, State.Round, State.Closed.Count, State.ComputeVPods.Count);
        return true;
    }

    private async Task<bool> AggregateAsync(CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var registry = await RegistryAsync(cancellationToken);
        _registry = registry;
        if (Secure && !await SecureUnmaskAsync(cancellationToken))
        {
            return false;
        }

        // Each validator fetches the closed round's facts from this job (GetRoundClosingAsync), so no caller can feed it others.
        var votes = await Task.WhenAll(State.ValidatorVPods.Select(id => VoteAsync(id, State.Round, cancellationToken)));
        var domain = new RegistryDomain(State.ChainId, registry);
        var valid = votes.OfType<ValidatorVote>().Where(v => SignatureValid(domain, v)).ToList();
        var tally = FederatedJobStateMachine.Tally(valid, State.ValidatorVPods, Spec.Quorum);
        if (!tally.HasQuorum && FederatedJobStateMachine.QuorumStillPossible(tally, Spec.Quorum))
        {
            // Validators that did not answer (a silo died, a workload restarts) may yet agree: the step is retried.
            throw new InvalidJobOperationException($"round {State.Round}: {valid.Count} of {State.ValidatorVPods.Count} validators answered, {Spec.Quorum} must agree; silent: {string.Join(", ", tally.Silent)}.");
        }

        if (!tally.HasQuorum)
        {
            var hashes = string.Join(", ", valid.Select(v => $"{v.ValidatorVPodId}: {v.ResultHash}"));
            await EndAsync(FederatedJobPhase.Failed, $"round {State.Round}: no {Spec.Quorum} validators agreed ({(hashes.Length == 0 ? "none answered" : hashes)})", cancellationToken);
            return false;
        }

        State.Votes = tally.Agreeing.ToList();
        State.Disagreeing = State.ValidatorVPods.Except(tally.Agreeing.Select(v => v.ValidatorVPodId), StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        State.AggregationMs = watch.Elapsed.TotalMilliseconds;
        State.Phase = FederatedJobStateMachine.Next(State.Phase, FederatedJobTrigger.QuorumReached);
        _votesUnsaved = true;
        foreach (var id in State.Disagreeing)
        {
            LogDisagreed(_logger, JobId, State.Round, id, tally.Agreed!.ResultHash);
        }

        return true;
    }

    private async Task<ValidatorVote?> VoteAsync(string validator, int round, CancellationToken cancellationToken)
    {
        try
        {
            return await GrainFactory.GetGrain<IValidatorWorkerGrain>(ValidatorKey(validator)).AggregateAsync(JobId, round, cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogValidatorSilent(_logger, exception, JobId, round, validator);
            return null;
        }
    }

    /// <summary>
    /// The vote's FinalizeRound signature recovers to the validator's proved address; with a stateful server optimizer, so does its
    /// ServerState signature, and the state it returned is the job's optimizer's and hashes to the signed state hash.
    /// </summary>
    private bool SignatureValid(RegistryDomain domain, ValidatorVote vote)
    {
        try
        {
            var digest = RegistryTypedData.FinalizeDigest(domain, ToChain(vote));
            if (!State.Addresses.TryGetValue(vote.ValidatorVPodId, out var address)
                || !string.Equals(RegistryTypedData.Recover(digest, vote.Signature), address, StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            if (Spec.ServerOptimizer is not { HasState: true } optimizer)
            {
                return vote.OptimizerState is null && vote.StateHash is null;
            }

            if (vote.OptimizerState is not { } encoded || vote.StateHash is not { } stateHash || vote.StateSignature is not { } stateSignature)
            {
                return false;
            }

            var (stateOptimizer, state) = ServerOptimization.Decode(encoded);
            return stateOptimizer == optimizer
                && string.Equals(ServerOptimization.HashHex(optimizer, state), stateHash, StringComparison.OrdinalIgnoreCase)
                && string.Equals(RegistryTypedData.Recover(RegistryTypedData.ServerStateDigest(domain, JobId, State.Round, vote.ResultHash, stateHash), stateSignature), address, StringComparison.OrdinalIgnoreCase);
        }
        catch (Exception exception) when (exception is InvalidChainRequestException or FormatException or ArgumentException)
        {
            return false;
        }
    }

    private async Task<bool> FinalizeAsync(CancellationToken cancellationToken)
    {
        var agreed = State.Votes[0];
        var model = ModelEncoding.Decode(agreed.Model);
        if (!string.Equals(ModelEncoding.HashHex(model), agreed.ResultHash, StringComparison.OrdinalIgnoreCase))
        {
            await EndAsync(FederatedJobPhase.Failed, $"round {State.Round}: the agreed model does not hash to the agreed result {agreed.ResultHash}", cancellationToken);
            return false;
        }

        if (!string.Equals(FederationHashing.ToHex(SHA256.HashData(agreed.Model)), agreed.ModelRef, StringComparison.OrdinalIgnoreCase))
        {
            await EndAsync(FederatedJobPhase.Failed, $"round {State.Round}: the agreed model does not hash to the agreed model reference {agreed.ModelRef}", cancellationToken);
            return false;
        }

        var registry = await RegistryAsync(cancellationToken);
        var submitter = _accounts.OperatorAddress ?? throw new ChainUnavailableException("this silo has no operator account to submit transactions: set MetaNode:Chain:AccountPrivateKey (a secret) or MetaNode:Chain:KeystoreDirectory.");
        var watch = Stopwatch.StartNew();
        var signatures = Signatures(State.Votes);

        // The model's IPFS CID goes on chain with the round, signed by the validators, who computed it from the same bytes.
        var modelBlocks = MetaNode.Storage.UnixFsFile.Import(agreed.Model);
        var modelCid = modelBlocks[^1].Cid.ToString();
        var record = ToChain(agreed, modelCid);

        // The votes are written, the model stored under its reference and the result finalized on chain, all at the same time.
        var saving = _votesUnsaved ? SaveAsync(cancellationToken) : Task.CompletedTask;
        var storing = GrainFactory.GetGrain<IFederatedModelGrain>(agreed.ModelRef).PutAsync(agreed.Model, cancellationToken);
        var storingByCid = Spec.StorageCluster is { } storageCluster ? StoreAsync(storageCluster, modelBlocks, cancellationToken) : Task.CompletedTask;
        var finalizing = GrainFactory.GetGrain<IChainAccountGrain>(submitter).FinalizeRoundAsync(registry, record, signatures, cancellationToken);
        await Task.WhenAll(saving, storing, storingByCid, finalizing);
        var outcome = await finalizing;

        // Each agreeing validator's workload evaluated the same model on its held-out split; the first one's figures are the round's.
        var evaluation = State.Votes.Select(v => v.Evaluation).FirstOrDefault(e => e is not null);
        if (!outcome.Record.Finalized || outcome.Record.Matches == false)
        {
            await EndAsync(FederatedJobPhase.Failed, $"round {State.Round}: the chain holds another result for this round (transaction {outcome.Record.TransactionHash})", cancellationToken);
            return false;
        }

        var finalizationMs = watch.Elapsed.TotalMilliseconds;
        var now = _time.GetUtcNow();
        var round = State.Round;
        State.Results.Add(new RoundResult
        {
            Job = JobId,
            Round = round,
            Participants = agreed.Participants,
            TotalSamples = agreed.TotalSamples,
            ResultHash = agreed.ResultHash,
            ReceiptsRoot = agreed.ReceiptsRoot,
            Aggregation = Spec.Robust,
            // What the validators rejected, and what the job refused from vPods that never sent an acceptable update.
            Rejected = agreed.Rejected
                .Concat(State.Refused.Where(r => !agreed.Participants.Contains(r.Key, StringComparer.Ordinal) && !agreed.Rejected.Any(x => x.VPodId == r.Key)).Select(r => new RejectedUpdate(r.Key, r.Value)))
                .OrderBy(r => r.VPodId, StringComparer.Ordinal)
                .ToList(),
            Accuracy = evaluation?.Accuracy,
            Loss = evaluation?.Loss,
            ModelRef = agreed.ModelRef,
            ModelCid = modelCid,
            Receipts = ParticipantReceipts(agreed.Participants),
            TxHash = outcome.TransactionHash ?? outcome.Record.TransactionHash,
            Validators = State.Votes.Select(v => v.ValidatorVPodId).ToList(),
            DisagreeingValidators = State.Disagreeing.ToList(),
            Signatures = signatures,
            StateHash = agreed.StateHash,
            StateSignatures = agreed.StateHash is null ? [] : State.Votes.Select(v => new ValidatorSignature(v.Signer, v.StateSignature!, v.ValidatorVPodId)).ToList(),
        });
        if (Spec.StorageCluster is { } recordCluster)
        {
            State.Results[^1] = State.Results[^1] with { RecordCid = await StoreAsync(recordCluster, MetaNode.Storage.UnixFsFile.Import(RoundRecordJson(State.Results[^1])), cancellationToken) };
        }

        var started = State.RoundStartedAt ?? now;
        State.Timings.Add(new RoundTimings
        {
            Round = round,
            DispatchMs = State.DispatchMs,
            SlowestTrainingMs = Secure
                ? Transcript().TrainingMs.Values.DefaultIfEmpty().Max()
                : State.Closed.Where(State.Updates.ContainsKey).Select(id => State.Updates[id].TrainingMs).DefaultIfEmpty().Max(),
            CollectionMs = ((State.ClosedAt ?? now) - started).TotalMilliseconds,
            StreamDeliveryMs = State.Votes.Select(v => v.SlowestDeliveryMs).DefaultIfEmpty().Max(),
            AggregationMs = State.AggregationMs,
            FinalizationMs = finalizationMs,
            TotalMs = (now - started).TotalMilliseconds,
            GasUsed = outcome.GasUsed ?? 0,
        });
        _metrics.RoundFinalized(JobId, State.Timings[^1], agreed.Participants.Count, evaluation?.Accuracy);
        _roundSpan?.SetTag("metanode.participants", agreed.Participants.Count);
        State.GlobalModel = agreed.Model;
        State.OptimizerState = agreed.OptimizerState;
        var last = round >= Spec.Rounds;
        State.Phase = FederatedJobStateMachine.Next(State.Phase, FederatedJobTrigger.Confirmed, last);
        LogConfirmed(_logger, JobId, round, agreed.Participants.Count, evaluation?.Accuracy ?? double.NaN, agreed.ResultHash, State.Results[^1].TxHash ?? "-");
        if (last)
        {
            await EndAsync(State.Phase, null, cancellationToken);
            return false;
        }

        State.Round = round + 1;
        State.SecureTranscript = null;
        State.Updates.Clear();
        State.Refused.Clear();
        State.Closed = [];
        State.Votes = [];
        State.Disagreeing = [];
        State.RoundStartedAt = null;
        State.Deadline = null;
        State.ClosedAt = null;

        // Not written here: the next round's dispatch writes it. A job that dies in between finalizes again, and the chain
        // answers that the round is already finalized with this result.
        return true;
    }

    private async Task EndAsync(FederatedJobPhase phase, string? reason, CancellationToken cancellationToken)
    {
        if (phase == FederatedJobPhase.Failed && State.Phase is FederatedJobPhase.Dispatching or FederatedJobPhase.Training or FederatedJobPhase.Aggregating or FederatedJobPhase.Finalizing)
        {
            _metrics.RoundFailed();

            // A finalization the step itself gave up on (the chain holds another result); one that threw was counted by the pump.
            if (State.Phase == FederatedJobPhase.Finalizing && _inStep)
            {
                _metrics.FinalizationFailed();
            }
        }

        if (!_inStep)
        {
            // Ended from outside a step (cancelled, or a step that kept failing): StepAsync ends it otherwise.
            EndRoundSpan(phase == FederatedJobPhase.Failed ? reason : null);
        }

        State.Phase = phase;
        State.Reason = reason;
        State.Updates.Clear();
        State.Votes = [];
        await SaveAsync(cancellationToken);
        _pump?.Dispose();
        _pump = null;
        if (await this.GetReminder(KeepAliveReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }

        await Task.WhenAll(State.ValidatorVPods.Select(id => GrainFactory.GetGrain<IValidatorWorkerGrain>(ValidatorKey(id)).LeaveAsync(cancellationToken)));
        LogEnded(_logger, JobId, phase, State.Round, reason ?? "-");
    }

    private async Task SaveAsync(CancellationToken cancellationToken)
    {
        State.UpdatedAt = _time.GetUtcNow();
        _updatesUnsaved = false;
        _votesUnsaved = false;
        await _state.WriteStateAsync(cancellationToken);
        await PublishSummaryAsync(cancellationToken);
    }

    private Task PublishSummaryAsync(CancellationToken cancellationToken) =>
        GrainFactory.GetGrain<IFederatedJobRegistryGrain>(FederatedJobRegistryKeys.Default).UpsertAsync(new FederatedJobSummary
        {
            JobId = JobId,
            Phase = State.Phase,
            Round = State.Round,
            Rounds = Spec.Rounds,
            Dataset = Spec.Dataset,
            Accuracy = State.Results.Count > 0 ? State.Results[^1].Accuracy : null,
            CreatedAt = State.CreatedAt,
            UpdatedAt = State.UpdatedAt,
        }, cancellationToken);

    /// <summary>Checks the spec, the clusters and the chain; nothing is recorded when any check fails.</summary>
    private async Task<(List<string> Compute, List<string> Validators, Dictionary<string, string> Addresses, int Threshold)> CheckAsync(FederatedJobSpec spec, CancellationToken cancellationToken)
    {
        var errors = FederatedJobSpecParser.Validate(spec).ToList();
        if (!JobIdPattern.IsMatch(JobId))
        {
            errors.Add($"job id '{JobId}' is invalid: use 2-32 lower-case letters, digits or '-' (it is recorded on chain as bytes32).");
        }

        if (errors.Count > 0)
        {
            throw new InvalidJobSpecException(errors);
        }

        // Several compute clusters (say one per workload language) train as one: their members, in vPod id order as the partitioning expects.
        var compute = new List<string>();
        var clusterSpecs = new List<ClusterSpec>();
        foreach (var cluster in FederatedJobSpecParser.ComputeClusters(spec))
        {
            compute.AddRange(await MembersAsync(cluster, VPodType.Compute, errors, cancellationToken, clusterSpecs));
        }

        var threshold = FederatedJobStateMachine.SecurityThreshold(spec, clusterSpecs, compute.Distinct(StringComparer.Ordinal).Count(), errors);

        compute = compute.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var validators = await MembersAsync(spec.ValidatorCluster, VPodType.Validator, errors, cancellationToken);
        if (spec.StorageCluster is { } storageCluster)
        {
            await MembersAsync(storageCluster, VPodType.Storage, errors, cancellationToken);
        }

        if (errors.Count == 0)
        {
            errors.AddRange(FederatedJobSpecParser.ValidateAgainstClusters(spec, compute.Count, validators.Count));
        }

        // Every vPod proves now, over a fresh nonce, the key its workload holds; a vPod that cannot (no workload protocol, a changed
        // key not yet admitted, not running) is named and the job is refused.
        IReadOnlyDictionary<string, VPodStatus> statuses = new Dictionary<string, VPodStatus>();
        if (errors.Count == 0)
        {
            var proven = await VPodIdentityChecks.ProveAsync(GrainFactory, compute.Concat(validators), cancellationToken);
            errors.AddRange(proven.Refusals);
            statuses = proven.Proven;
        }

        if (errors.Count == 0)
        {
            var set = await GrainFactory.GetGrain<IChainGrain>(ChainKeys.Default).GetValidatorsAsync(cancellationToken);
            var outside = validators.Where(id => !set.Validators.Any(v => string.Equals(v.Address, statuses[id].Address, StringComparison.OrdinalIgnoreCase))).ToList();
            if (outside.Count > 0)
            {
                errors.Add($"validator vPod(s) {string.Join(", ", outside)} are not in the registry's validator set: run 'metanode-cli chain deploy' to deploy a registry for the validator vPods.");
            }

            if (spec.Quorum < set.Threshold)
            {
                errors.Add($"quorum '{spec.Quorum}' is below the registry's threshold of {set.Threshold} signatures.");
            }
        }

        if (errors.Count == 0)
        {
            try
            {
                await LoadDatasetAsync(spec, cancellationToken);
            }
            catch (Exception exception) when (exception is InvalidDatasetException or IOException or UnauthorizedAccessException)
            {
                errors.Add($"dataset '{spec.Dataset}': {exception.Message}");
            }
        }

        return errors.Count > 0
            ? throw new InvalidJobSpecException(errors)
            : (compute, validators, statuses.ToDictionary(s => s.Key, s => s.Value.Address!.ToLowerInvariant(), StringComparer.Ordinal), threshold);
    }

    /// <summary>The job's data: an upload from its content-addressed grain, else a built-in set or a file under the data set root.</summary>
    private async Task<TabularDataset> LoadDatasetAsync(FederatedJobSpec spec, CancellationToken cancellationToken)
    {
        if (!DatasetReferences.TryParseUpload(spec.Dataset, out var hash))
        {
            return BuiltInDatasets.Load(spec.Dataset, spec.Seed, _options.DatasetBaseDirectory, _datasets);
        }

        var bytes = await GrainFactory.GetGrain<IFederatedDatasetGrain>(hash).GetAsync(cancellationToken)
            ?? throw new InvalidDatasetException($"no data set was uploaded as {spec.Dataset}: upload it first ('metanode-cli job run --dataset PATH' does).");
        return CsvDatasetReader.Read(new MemoryStream(bytes, writable: false), spec.Dataset, BuiltInDatasets.UploadName(hash), _datasets.MaxUploadBytes);
    }

    private async Task<List<string>> MembersAsync(string cluster, VPodType type, List<string> errors, CancellationToken cancellationToken, List<ClusterSpec>? specs = null)
    {
        ClusterStatus status;
        try
        {
            status = await GrainFactory.GetGrain<IVPodClusterGrain>(cluster).GetStatusAsync(cancellationToken);
        }
        catch (ClusterNotFoundException)
        {
            errors.Add($"cluster '{cluster}' does not exist: deploy it with 'metanode-cli cluster deploy'.");
            return [];
        }

        if (status.Phase is ClusterPhase.None or ClusterPhase.Deleted or ClusterPhase.Deleting || status.Spec is null)
        {
            errors.Add($"cluster '{cluster}' does not exist: deploy it with 'metanode-cli cluster deploy'.");
            return [];
        }

        if (status.Spec.MemberType != type)
        {
            errors.Add($"cluster '{cluster}' has {status.Spec.MemberType.ToString().ToLowerInvariant()} vPods; this job needs {type.ToString().ToLowerInvariant()} vPods there.");
            return [];
        }

        specs?.Add(status.Spec);
        return status.Members.Select(m => m.Id).Order(StringComparer.Ordinal).ToList();
    }

    private async Task<Dictionary<string, VPodStatus>> VPodStatusesAsync(IEnumerable<string> ids, CancellationToken cancellationToken)
    {
        var statuses = await Task.WhenAll(ids.Select(id => GrainFactory.GetGrain<IVPodGrain>(id).GetStatusAsync(cancellationToken)));
        return statuses.ToDictionary(s => s.Id, StringComparer.Ordinal);
    }

    private async Task<string> RegistryAsync(CancellationToken cancellationToken) =>
        await GrainFactory.GetGrain<IChainGrain>(ChainKeys.Default).GetRegistryAsync(cancellationToken)
            ?? throw new ChainUnavailableException("no ResultRegistry is deployed: run 'metanode-cli chain deploy'.");

    private static Uri Endpoint(VPodStatus status) =>
        status.Endpoint is { } endpoint ? new Uri(endpoint) : throw new WorkloadRequestException(status.Id, "", 0, $"vPod '{status.Id}' is {status.Phase}: its workload has no endpoint");

    /// <summary>What a vote signed: the round's fields and the CID of the vote's model (computed here unless the caller has it).</summary>
    private ChainRoundResult ToChain(ValidatorVote vote, string? modelCid = null) => new()
    {
        JobId = JobId,
        Round = State.Round,
        ResultHash = vote.ResultHash,
        ReceiptsRoot = vote.ReceiptsRoot,
        ModelRef = vote.ModelRef,
        ModelCid = modelCid ?? ModelCid(vote.Model),
    };

    /// <summary>The model's CID as <c>ipfs add --cid-version 1</c> computes it (raw leaves of 256 KiB, a dag-pb root above them).</summary>
    private static string ModelCid(byte[] model) => MetaNode.Storage.UnixFsFile.ComputeCid(model).ToString();

    private string ValidatorKey(string vpodId) => $"{JobId}/{vpodId}";

    private FederatedJobStatus Status() => new()
    {
        JobId = JobId,
        Phase = State.Phase,
        Spec = State.Spec,
        Round = State.Round,
        Rounds = State.Spec?.Rounds ?? 0,
        UpdatesIn = State.Spec?.Algorithm == FederatedAlgorithm.SecureAggregation ? Transcript().Masked?.Count ?? 0 : State.Updates.Count,
        SecurityThreshold = State.SecurityThreshold,
        ComputeVPods = State.ComputeVPods.Count,
        Validators = State.ValidatorVPods,
        Reason = State.Reason,
        Results = State.Results.ToList(),
        Timings = State.Timings.ToList(),
        CreatedAt = State.CreatedAt,
        UpdatedAt = State.UpdatedAt,
        RoundDeadline = State.Deadline,
        FinalModelHash = State.Phase == FederatedJobPhase.Completed && State.Results.Count > 0 ? State.Results[^1].ResultHash : null,
        Addresses = new Dictionary<string, string>(State.Addresses, StringComparer.Ordinal),
        ChainId = State.ChainId,
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} refused update {EventId}: {Reason}; it is flagged in the round's result")]
    private static partial void LogUpdateRejected(ILogger logger, string jobId, string eventId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} started: {Dataset} over {Compute} compute and {Validators} validator vPods, {Rounds} rounds, quorum {Quorum}")]
    private static partial void LogStarted(ILogger logger, string jobId, string dataset, int compute, int validators, int rounds, int quorum);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} prepared: {Parts} partitions written to the compute vPods' data directories, {TestRows} held-out rows to the validators'")]
    private static partial void LogPrepared(ILogger logger, string jobId, int parts, int testRows);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} round {Round} closed with {Participants} of {Compute} updates")]
    private static partial void LogClosed(ILogger logger, string jobId, int round, int participants, int compute);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} round {Round}: validator vPod {VPodId} did not sign the agreed result {ResultHash}; it is recorded as disagreeing")]
    private static partial void LogDisagreed(ILogger logger, string jobId, int round, string vpodId, string resultHash);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} round {Round}: validator vPod {VPodId} gave no vote; it is recorded as silent")]
    private static partial void LogValidatorSilent(ILogger logger, Exception exception, string jobId, int round, string vpodId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} round {Round} finalized on chain: {Participants} participants, accuracy {Accuracy:F4}, result {ResultHash}, transaction {TxHash}")]
    private static partial void LogConfirmed(ILogger logger, string jobId, int round, int participants, double accuracy, string resultHash, string txHash);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} ended {Phase} in round {Round}: {Reason}")]
    private static partial void LogEnded(ILogger logger, string jobId, FederatedJobPhase phase, int round, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} could not complete step {Phase} of round {Round} (failing for {Seconds:F0} s of at most {LimitSeconds:F0} s); it retries")]
    private static partial void LogStepFailed(ILogger logger, Exception exception, string jobId, FederatedJobPhase phase, int round, double seconds, double limitSeconds);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} ignored update {EventId}: the job is {Phase} in round {Round}")]
    private static partial void LogUpdateIgnored(ILogger logger, string jobId, string eventId, FederatedJobPhase phase, int round);
}
