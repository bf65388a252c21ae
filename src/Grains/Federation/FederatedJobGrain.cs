using System.Diagnostics;
using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Grains.Chain;
using MetaNode.Grains.Hosting;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ChainRoundResult = MetaNode.Chain.RoundResult;

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
public sealed partial class FederatedJobGrain(
    [PersistentState("job", MetaNodeNames.ChainStorage)] IPersistentState<FederatedJobState> state,
    FederatedWorkloadClient workloads,
    ChainAccounts accounts,
    ChainConnector connector,
    TimeProvider time,
    IOptions<FederatedJobOptions> options,
    IOptions<DatasetOptions> datasets,
    IFederatedFaults faults,
    MetaNodeMetrics metrics,
    ILogger<FederatedJobGrain> logger) : Grain, IFederatedJobGrain, IRemindable
{
    private const string KeepAliveReminder = "keep-alive";

    private readonly FederatedJobOptions _options = options.Value;
    private readonly DatasetOptions _datasets = datasets.Value;
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

    private string JobId => this.GetPrimaryKeyString();

    private FederatedJobState State => state.State;

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
                ? await StatusAsync(cancellationToken)
                : throw new InvalidJobOperationException($"job '{JobId}' already exists with another spec: choose another job id.");
        }

        var (compute, validators, addresses, threshold) = await CheckAsync(spec, cancellationToken);
        var now = time.GetUtcNow();
        State.Spec = spec;
        State.Phase = FederatedJobPhase.Preparing;
        State.ComputeVPods = compute;
        State.ValidatorVPods = validators;
        State.Addresses = addresses;
        State.SecurityThreshold = threshold;
        State.CreatedAt = now;
        State.UpdatedAt = now;
        await state.WriteStateAsync(cancellationToken);
        await this.RegisterOrUpdateReminder(KeepAliveReminder, _options.KeepAlivePeriod, _options.KeepAlivePeriod);
        await PublishSummaryAsync(cancellationToken);
        LogStarted(logger, JobId, spec.Dataset, compute.Count, validators.Count, spec.Rounds, spec.Quorum);
        StartPump();
        return Status([]);
    }

    public Task<FederatedJobStatus> GetStatusAsync(CancellationToken cancellationToken = default) =>
        State.Spec is null ? throw new JobNotFoundException(JobId) : StatusAsync(cancellationToken);

    public async Task<FederatedJobStatus> CancelAsync(CancellationToken cancellationToken = default)
    {
        if (State.Spec is null)
        {
            throw new JobNotFoundException(JobId);
        }

        await EndAsync(FederatedJobStateMachine.Next(State.Phase, FederatedJobTrigger.Cancel), "cancelled", cancellationToken);
        return await StatusAsync(cancellationToken);
    }

    public Task SubmitUpdateAsync(FederatedUpdateEvent update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        var receipt = update.Update.Receipt;
        if (State.Spec is null || !string.Equals(receipt.Job, JobId, StringComparison.Ordinal) || receipt.Round != State.Round
            || State.Phase is not (FederatedJobPhase.Dispatching or FederatedJobPhase.Training)
            || !State.ComputeVPods.Contains(receipt.VPodId, StringComparer.Ordinal))
        {
            LogUpdateIgnored(logger, JobId, update.EventId, State.Phase, State.Round);
            return Task.CompletedTask;
        }

        if (State.Updates.ContainsKey(receipt.VPodId))
        {
            return Task.CompletedTask;
        }

        if (FederatedUpdateChecks.Refusal(State, update.Update) is { } reason)
        {
            // Checked before it can take the vPod's place: a forged copy that arrives first does not hide the real one.
            LogUpdateRejected(logger, JobId, update.EventId, reason);
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

    public async Task<SignedRound?> GetSignedRoundAsync(int round, CancellationToken cancellationToken = default)
    {
        if (State.Spec is null)
        {
            throw new JobNotFoundException(JobId);
        }

        return await ResultAsync(round, cancellationToken) is { } result
            ? new SignedRound(new ChainRoundResult { JobId = JobId, Round = round, ResultHash = result.ResultHash, ReceiptsRoot = result.ReceiptsRoot, ModelRef = result.ModelRef ?? string.Empty, ModelCid = result.ModelCid ?? string.Empty }, result.Signatures)
            : round == State.Round && State.Votes.Count > 0
                ? new SignedRound(ToChain(State.Votes[0]), ValidatorVoteVerification.Signatures(State.Votes))
                : null;
    }

    public Task<IReadOnlyList<ModelUpdate>> GetUpdatesAsync(int round, IReadOnlyList<string> vpodIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vpodIds);
        IReadOnlyList<ModelUpdate> updates = round != State.Round
            ? []
            : vpodIds.Where(State.Updates.ContainsKey).Select(id => State.Updates[id].Update).ToList();
        return Task.FromResult(updates);
    }

    public async Task<byte[]?> GetModelAsync(int round, CancellationToken cancellationToken = default) =>
        await ResultAsync(round, cancellationToken) is { ModelRef: { } reference }
            ? await GrainFactory.GetGrain<IFederatedModelGrain>(reference).GetAsync(cancellationToken)
            : null;

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

    private async Task EndAsync(FederatedJobPhase phase, string? reason, CancellationToken cancellationToken)
    {
        if (phase == FederatedJobPhase.Failed && State.Phase is FederatedJobPhase.Dispatching or FederatedJobPhase.Training or FederatedJobPhase.Aggregating or FederatedJobPhase.Finalizing)
        {
            metrics.RoundFailed();

            // A finalization the step itself gave up on (the chain holds another result); one that threw was counted by the pump.
            if (State.Phase == FederatedJobPhase.Finalizing && _inStep)
            {
                metrics.FinalizationFailed();
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
        LogEnded(logger, JobId, phase, State.Round, reason ?? "-");
    }

    private async Task SaveAsync(CancellationToken cancellationToken)
    {
        State.UpdatedAt = time.GetUtcNow();
        _updatesUnsaved = false;
        _votesUnsaved = false;
        await state.WriteStateAsync(cancellationToken);
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

    /// <summary>What a vote signed, for this job's current round (<see cref="ValidatorVoteVerification.RoundRecord"/>).</summary>
    private ChainRoundResult ToChain(ValidatorVote vote, string? modelCid = null) =>
        ValidatorVoteVerification.RoundRecord(JobId, State.Round, vote, modelCid);

    private string ValidatorKey(string vpodId) => $"{JobId}/{vpodId}";

    /// <summary>The status, with the rounds already moved to the job's history (<paramref name="history"/>) before those in its state.</summary>
    private FederatedJobStatus Status(IReadOnlyList<FederatedJobHistoryPage> history) => new()
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
        Results = [.. history.SelectMany(p => p.Results), .. State.Results],
        Timings = [.. history.SelectMany(p => p.Timings), .. State.Timings],
        CreatedAt = State.CreatedAt,
        UpdatedAt = State.UpdatedAt,
        RoundDeadline = State.Deadline,
        FinalModelHash = State.Phase == FederatedJobPhase.Completed && State.Results.Count > 0 ? State.Results[^1].ResultHash : null,
        Addresses = new Dictionary<string, string>(State.Addresses, StringComparer.Ordinal),
        ChainId = State.ChainId,
    };
}
