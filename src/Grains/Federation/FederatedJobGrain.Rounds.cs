using System.Diagnostics;
using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Grains.Hosting;

namespace MetaNode.Grains.Federation;

/// <summary>
/// The round machine: a grain timer runs the current phase's step until the phase stops changing. Preparing places the data,
/// Dispatching asks the compute vPods to train, Training collects their updates until the round closes, Aggregating has the
/// validators aggregate and sign, and Finalizing puts the agreed result on chain and moves to the next round.
/// </summary>
public sealed partial class FederatedJobGrain
{
    private async Task PumpAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
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
                metrics.FinalizationFailed();
            }

            _failingSince ??= now;
            _retryAt = now + _options.StepRetryDelay;
            LogStepFailed(logger, exception, JobId, State.Phase, State.Round, (now - _failingSince.Value).TotalSeconds, _options.StepRetryTimeout.TotalSeconds);
            if (now - _failingSince.Value >= _options.StepRetryTimeout && FederatedJobStateMachine.IsActive(State.Phase))
            {
                await EndAsync(FederatedJobPhase.Failed, $"round {State.Round}, {State.Phase}: {exception.Message}", CancellationToken.None);
            }
        }
    }

    /// <summary>Runs the current phase's step (a span of the round's trace); true when the phase changed and the next step can run at once.</summary>
    private async Task<bool> StepAsync(CancellationToken cancellationToken)
    {
        using var scope = logger.BeginRound(JobId, State.Round);
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
        await Task.WhenAll(placement.Files.Select(p => workloads.PlaceDataAsync(Endpoint(statuses[p.Key]), p.Value, cancellationToken)));
        State.AssignedSamples = placement.TrainRows.ToDictionary(p => p.Key, p => (long)p.Value, StringComparer.Ordinal);
        State.ChainId = await connector.GetChainIdAsync(cancellationToken);

        // Federated standardization: each compute vPod reveals its sums and counts, never rows.
        var moments = await Task.WhenAll(State.ComputeVPods.Select(id => workloads.GetStatisticsAsync(Endpoint(statuses[id]), PartitionWriter.TrainSplit, cancellationToken)));
        State.Standardization = StandardizationCombiner.Combine(moments);
        State.GlobalModel = ModelEncoding.Encode(FederatedModel.Zero(data.Classes, data.Features));
        // Each validator asks this job for its assignment (GetValidatorAssignmentAsync): nobody else can hand it other facts.
        await Task.WhenAll(State.ValidatorVPods.Select(id => GrainFactory.GetGrain<IValidatorWorkerGrain>(ValidatorKey(id)).JoinAsync(JobId, cancellationToken)));
        State.Round = 1;
        State.Phase = FederatedJobStateMachine.Next(State.Phase, FederatedJobTrigger.Prepared);
        await SaveAsync(cancellationToken);
        LogPrepared(logger, JobId, placement.TrainRows.Count, placement.TestRows);
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
        var now = time.GetUtcNow();
        State.RoundStartedAt ??= now;
        State.Deadline ??= now + Spec.RoundDeadline;
        await SendTrainingAsync();
        _dispatchedAt = time.GetUtcNow();
        State.DispatchMs = (_dispatchedAt.Value - State.RoundStartedAt.Value).TotalMilliseconds;
        State.Phase = FederatedJobStateMachine.Next(State.Phase, FederatedJobTrigger.Dispatched);
        await SaveAsync(cancellationToken);
        return true;
    }

    /// <summary>Tells the compute vPods that have not answered to train; each fetches its assignment from this job.</summary>
    private Task SendTrainingAsync() =>
        Task.WhenAll(State.ComputeVPods.Where(id => !State.Updates.ContainsKey(id))
            .Select(id => GrainFactory.GetGrain<IComputeWorkerGrain>(id).TrainAsync(JobId, State.Round)));

    private async Task<bool> CollectAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
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
            metrics.RoundDeadlineExceeded();
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
        LogClosed(logger, JobId, State.Round, State.Closed.Count, State.ComputeVPods.Count);
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
        var domain = new RegistryDomain(State.ChainId, registry);
        var round = State.Round;
        var votes = await QuorumVoteCollector.CollectAsync(
            State.ValidatorVPods,
            id => VoteAsync(id, round, cancellationToken),
            vote => ValidatorVoteVerification.ValidVotes([vote], domain, JobId, round, State.Addresses, Spec.ServerOptimizer).FirstOrDefault(),
            Spec.Quorum,
            _options.QuorumGrace,
            (grace, token) => Task.Delay(grace, time, token),
            cancellationToken);
        var tally = FederatedJobStateMachine.Tally(votes.Valid, State.ValidatorVPods, Spec.Quorum);
        if (!tally.HasQuorum && FederatedJobStateMachine.QuorumStillPossible(tally, Spec.Quorum))
        {
            // Validators that did not answer (a silo died, a workload restarts) may yet agree: the step is retried.
            throw new InvalidJobOperationException($"round {State.Round}: {votes.Valid.Count} of {State.ValidatorVPods.Count} validators answered, {Spec.Quorum} must agree; silent: {string.Join(", ", tally.Silent)}.");
        }

        if (!tally.HasQuorum)
        {
            var hashes = string.Join(", ", votes.Valid.Select(v => $"{v.ValidatorVPodId}: {v.ResultHash}"));
            await EndAsync(FederatedJobPhase.Failed, $"round {State.Round}: no {Spec.Quorum} validators agreed ({(hashes.Length == 0 ? "none answered" : hashes)})", cancellationToken);
            return false;
        }

        State.Votes = tally.Agreeing.ToList();
        State.Disagreeing = ValidatorVoteVerification.Disagreeing(votes.Answered, tally.Agreeing);
        State.AggregationMs = watch.Elapsed.TotalMilliseconds;
        State.Phase = FederatedJobStateMachine.Next(State.Phase, FederatedJobTrigger.QuorumReached);
        _votesUnsaved = true;
        foreach (var id in State.Disagreeing)
        {
            LogDisagreed(logger, JobId, State.Round, id, tally.Agreed!.ResultHash);
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
            LogValidatorSilent(logger, exception, JobId, round, validator);
            return null;
        }
    }

    private async Task<bool> FinalizeAsync(CancellationToken cancellationToken)
    {
        var agreed = State.Votes[0];
        if (ValidatorVoteVerification.AgreedModelProblem(agreed) is { } problem)
        {
            await EndAsync(FederatedJobPhase.Failed, $"round {State.Round}: {problem}", cancellationToken);
            return false;
        }

        var registry = await RegistryAsync(cancellationToken);
        var submitter = accounts.OperatorAddress ?? throw new ChainUnavailableException("this silo has no operator account to submit transactions: set MetaNode:Chain:AccountPrivateKey (a secret) or MetaNode:Chain:KeystoreDirectory.");
        var watch = Stopwatch.StartNew();
        var signatures = ValidatorVoteVerification.Signatures(State.Votes);

        // The model's IPFS CID goes on chain with the round, signed by the validators, who computed it from the same bytes.
        var modelBlocks = MetaNode.Storage.UnixFsFile.Import(agreed.Model);
        var modelCid = modelBlocks[^1].Cid.ToString();
        var record = ToChain(agreed, modelCid);

        // The votes are written, the model stored under its reference and the result finalized on chain, all at the same time.
        var saving = _votesUnsaved ? SaveAsync(cancellationToken) : Task.CompletedTask;
        var storing = GrainFactory.GetGrain<IFederatedModelGrain>(agreed.ModelRef).PutAsync(agreed.Model, cancellationToken);
        var storingByCid = Spec.StorageCluster is { } storageCluster ? StoreAsync(storageCluster, modelBlocks, cancellationToken) : Task.CompletedTask;
        // The round keeps every agreeing validator's signature; the transaction carries exactly the registry's threshold of them.
        var finalizing = GrainFactory.GetGrain<IChainAccountGrain>(submitter).FinalizeRoundWithThresholdAsync(registry, record, signatures, cancellationToken);
        await Task.WhenAll(saving, storing, storingByCid, finalizing);
        var outcome = await finalizing;
        if (!outcome.Record.Finalized || outcome.Record.Matches == false)
        {
            await EndAsync(FederatedJobPhase.Failed, $"round {State.Round}: the chain holds another result for this round (transaction {outcome.Record.TransactionHash})", cancellationToken);
            return false;
        }

        var finalizationMs = watch.Elapsed.TotalMilliseconds;
        var now = time.GetUtcNow();
        var round = State.Round;
        var evaluation = RoundLedger.Evaluation(State.Votes);
        State.Results.Add(RoundLedger.Result(JobId, State, modelCid, ParticipantReceipts(agreed.Participants), signatures, outcome));
        if (Spec.StorageCluster is { } recordCluster)
        {
            State.Results[^1] = State.Results[^1] with { RecordCid = await StoreAsync(recordCluster, MetaNode.Storage.UnixFsFile.Import(RoundRecordJson(State.Results[^1])), cancellationToken) };
        }

        State.Timings.Add(RoundLedger.Timings(State, RoundLedger.SlowestTrainingMs(State, Secure ? Transcript() : null), finalizationMs, now, outcome.GasUsed));
        metrics.RoundFinalized(JobId, State.Timings[^1], agreed.Participants.Count, evaluation?.Accuracy);
        _roundSpan?.SetTag("metanode.participants", agreed.Participants.Count);
        State.GlobalModel = agreed.Model;
        State.OptimizerState = agreed.OptimizerState;
        var last = round >= Spec.Rounds;
        State.Phase = FederatedJobStateMachine.Next(State.Phase, FederatedJobTrigger.Confirmed, last);
        LogConfirmed(logger, JobId, round, agreed.Participants.Count, evaluation?.Accuracy ?? double.NaN, agreed.ResultHash, State.Results[^1].TxHash ?? "-");
        await MoveFullPageToHistoryAsync(cancellationToken);
        if (last)
        {
            await EndAsync(State.Phase, null, cancellationToken);
            return false;
        }

        RoundLedger.BeginNextRound(State, round);

        // Not written here: the next round's dispatch writes it. A job that dies in between finalizes again, and the chain
        // answers that the round is already finalized with this result.
        return true;
    }
}
