using System.Globalization;
using MetaNode.Grains.Chain;
using MetaNode.Grains.Hosting;
using MetaNode.Grains.Placement;
using MetaNode.Grains.Runtime;
using MetaNode.Grains.Runtime.Process;
using MetaNode.Placement;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.VPods;

/// <summary>
/// One vPod. Decisions come from <see cref="VPodStateMachine"/>, <see cref="RestartPolicyDecision"/> and
/// <see cref="HealthEvaluator"/>; the grain applies them, persists, and only then acts on the runtime.
/// </summary>
[GrainType("vpod"), VPodPlacement]
public sealed partial class VPodGrain(
    [PersistentState("vpod", MetaNodeNames.VPodStorage)] IPersistentState<VPodState> state,
    IVPodRuntimeResolver runtimes,
    IWorkloadProbe probe,
    IOptions<VPodOptions> options,
    TimeProvider time,
    ILogger<VPodGrain> logger,
    WorkloadIdentityVerifier identity,
    ChainConnector chain,
    MetaNodeMetrics metrics,
    ILocalSiloDetails localSilo) : Grain, IVPodGrain
{
    private readonly VPodOptions _options = options.Value;

    // The status is immutable and rebuilt (under a new tag) only after the record changes: status calls are the hot path.
    private TaggedVPodStatus? _tagged;

    private string Id => this.GetPrimaryKeyString();

    private VPodState State => state.State;

    private VPodSpec Spec => State.Spec ?? throw new VPodNotFoundException(Id);

    private IVPodRuntime Runtime => runtimes.Resolve(Spec.DeploymentMethod);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (!state.RecordExists || State.Spec is null)
        {
            return;
        }

        metrics.VPodObserved(Id, State.Phase, State.Spec.Type, State.Spec.DeploymentMethod, State.Spec.Cluster);
        try
        {
            await ReconcileCoreAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The record stays as it was; the next call or silo start reconciles again.
            LogReconcileFailed(logger, exception, Id, State.Phase);
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        metrics.VPodLeft(Id);
        if (reason.ReasonCode == DeactivationReasonCode.ShuttingDown
            && state.RecordExists
            && State.Handle is { } handle
            && VPodStateMachine.HasWorkload(State.Phase)
            && !Runtime.WorkloadsOutliveSilo)
        {
            // The silo is going away and its runtime with it: remember to resume rather than count a failure.
            State.Interrupted = true;
            await state.WriteStateAsync(cancellationToken);
            LogInterrupted(logger, Id);
            await Runtime.StopAsync(Id, handle, _options.OrphanStopTimeout, force: false, cancellationToken);
        }
    }

    /// <summary>Has the placement ledger record what <paramref name="spec"/> asks of this silo; a ledger out of reach is logged, not fatal.</summary>
    private async Task RecordPlacementAsync(VPodSpec spec, CancellationToken cancellationToken)
    {
        try
        {
            await GrainFactory.GetGrain<IPlacementLedgerGrain>(PlacementLedgerKeys.Default).RecordAsync(PlacementRequest.For(Id, spec), localSilo.SiloAddress, cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogPlacementNotRecorded(logger, exception, Id);
        }
    }

    /// <summary>Frees the vPod's reservation; a ledger out of reach is logged, and its pruning frees it later.</summary>
    private async Task ReleasePlacementAsync(CancellationToken cancellationToken)
    {
        try
        {
            await GrainFactory.GetGrain<IPlacementLedgerGrain>(PlacementLedgerKeys.Default).ReleaseAsync(Id, cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogPlacementNotReleased(logger, exception, Id);
        }
    }

    public async Task<VPodStatus> CreateAsync(VPodSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (VPodNames.VPodIdProblem(Id) is { } idProblem)
        {
            throw new InvalidVPodSpecException(idProblem);
        }

        VPodSpecValidation.ThrowIfInvalid(spec);
        if (state.RecordExists && State.Spec is not null)
        {
            if (State.Phase != VPodPhase.Deleted && VPodSpecNormalization.SameSpec(State.Spec, spec))
            {
                return ToStatus();
            }

            throw new InvalidVPodOperationException(Id, VPodTrigger.Create, State.Phase);
        }

        spec = ProcessPortAssignment.AssignFreePorts(VPodSpecNormalization.Normalize(spec));

        // What the runtime cannot honour (replicas on a process, host paths, claims the vPod does not own, ...) is refused here:
        // before the name is reserved or anything recorded.
        runtimes.Resolve(spec.DeploymentMethod).ValidateSpec(Id, spec);
        var registry = GrainFactory.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default);
        var holder = await registry.ReserveNameAsync(spec.Name, Id, cancellationToken);
        if (holder is not null)
        {
            throw new InvalidVPodSpecException($"name '{spec.Name}' is already used by vPod '{holder}'.");
        }

        var now = time.GetUtcNow();
        State.Spec = spec;
        State.CreatedAt = now;
        State.DesiredRunning = true;
        Apply(VPodTrigger.Create, "created");

        // Nothing is done between the two transitions: one write records both, and with them the intent to run, before the
        // runtime is asked for anything. The registry learns of the vPod (ShouldRun) while the runtime provisions it, and the
        // launch waits for that, so a silo lost from here on finds the vPod again at start.
        Apply(VPodTrigger.Start, "starting after create");

        // The silo was chosen with the size the creator's request context gave placement, if any; the placement ledger records
        // the size this spec asks for, on this silo, while the record is written.
        await Task.WhenAll(PersistAsync(cancellationToken, updateRegistry: false), RecordPlacementAsync(spec, cancellationToken));
        LogCreated(logger, Id, spec.Name, spec.Type, spec.DeploymentMethod);
        await ProvisionAndLaunchAsync(cancellationToken, UpdateRegistryAsync(cancellationToken));
        return ToStatus();
    }

    public async Task<VPodStatus> StartAsync(CancellationToken cancellationToken = default)
    {
        EnsureExists();
        await BeginOperationAsync(VPodTrigger.Start, "start requested", desiredRunning: true, cancellationToken);
        await ProvisionAndLaunchAsync(cancellationToken);
        return ToStatus();
    }

    public async Task<VPodStatus> StopAsync(StopOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        EnsureExists();
        ValidateTimeout(options);
        await BeginOperationAsync(VPodTrigger.Stop, options.Force ? "forced stop requested" : "stop requested", desiredRunning: false, cancellationToken);
        await CompleteStopAsync(options, cancellationToken);
        return ToStatus();
    }

    /// <summary>Stops the workload as <see cref="StopAsync"/> would (graceful within the timeout, or forced), then launches it again.</summary>
    public async Task<VPodStatus> RestartAsync(StopOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new StopOptions();
        EnsureExists();
        ValidateTimeout(options);
        var reason = options.Force ? "forced restart requested" : string.Create(CultureInfo.InvariantCulture, $"restart requested (stop timeout {options.TimeoutSeconds}s)");
        await BeginOperationAsync(VPodTrigger.Restart, reason, desiredRunning: true, cancellationToken);
        await RelaunchAsync(countRestart: true, cancellationToken, options);
        return ToStatus();
    }

    public async Task<VPodStatus> DeleteAsync(StopOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        EnsureExists();
        ValidateTimeout(options);
        await BeginOperationAsync(VPodTrigger.Delete, "delete requested", desiredRunning: false, cancellationToken);
        await CompleteDeleteAsync(options, cancellationToken);
        return ToStatus();
    }

    public Task<VPodStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        EnsureExists();
        return Task.FromResult(Tagged.Status);
    }

    public Task<TaggedVPodStatus?> GetStatusIfChangedAsync(Guid knownTag, CancellationToken cancellationToken = default)
    {
        EnsureExists();
        var current = Tagged;
        return Task.FromResult(current.Tag == knownTag ? null : current);
    }

    private TaggedVPodStatus Tagged => _tagged ??= new TaggedVPodStatus(Guid.NewGuid(), ToStatus());

    /// <summary>Records a user operation: the phase it leads to, whether the workload should run, no pending policy restart; persisted before acting.</summary>
    private async Task BeginOperationAsync(VPodTrigger trigger, string reason, bool desiredRunning, CancellationToken cancellationToken)
    {
        Apply(trigger, reason);
        State.DesiredRunning = desiredRunning;
        CancelRestart();
        await PersistAsync(cancellationToken);
    }

    /// <param name="registryUpdate">The registry's update for the phase recorded last, still under way; awaited before the launch.</param>
    private async Task ProvisionAndLaunchAsync(CancellationToken cancellationToken, Task? registryUpdate = null)
    {
        if (State.Phase == VPodPhase.Provisioning)
        {
            var provisioned = await TryProvisionAsync(cancellationToken, registryUpdate);
            if (registryUpdate is not null)
            {
                await registryUpdate;
            }

            if (!provisioned)
            {
                return;
            }

            // Not written on its own: the record already holds the intent to run, and what the runtime prepared is found again by
            // a new provision (it is idempotent); the launch's write records this transition with the workload's handle.
            Apply(VPodTrigger.Provisioned, "provisioned");
        }
        else if (registryUpdate is not null)
        {
            await registryUpdate;
        }

        await LaunchAsync(cancellationToken);
    }

    /// <summary>Stops what runs (if anything) and starts the workload again; the phase is Restarting.</summary>
    private async Task RelaunchAsync(bool countRestart, CancellationToken cancellationToken, StopOptions? stop = null)
    {
        StopHealthTimer();
        if (State.Handle is { } handle)
        {
            stop ??= new StopOptions();
            await Runtime.StopAsync(Id, handle, TimeSpan.FromSeconds(stop.TimeoutSeconds), stop.Force, cancellationToken);
        }

        if (countRestart)
        {
            State.RestartCount++;
            metrics.VPodRestarted(Spec.DeploymentMethod);
            await PersistAsync(cancellationToken);
        }

        if (!State.Provisioned && !await TryProvisionAsync(cancellationToken))
        {
            return;
        }

        await LaunchAsync(cancellationToken);
    }

    /// <summary>Has the runtime prepare the vPod; on failure records it (Failed, restart policy) and returns false.</summary>
    private async Task<bool> TryProvisionAsync(CancellationToken cancellationToken, Task? registryUpdate = null)
    {
        try
        {
            State.Handle = await Runtime.ProvisionAsync(Id, Spec, cancellationToken);
            State.Provisioned = true;
            return true;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            if (registryUpdate is not null)
            {
                // The failure's summary goes to the registry after the one under way, never before it.
                await registryUpdate;
            }

            await OnLaunchFailedAsync(exception, cancellationToken);
            return false;
        }
    }

    private async Task LaunchAsync(CancellationToken cancellationToken)
    {
        RuntimeHandle handle;
        try
        {
            handle = await Runtime.StartAsync(Id, Spec, State.Handle, cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            await OnLaunchFailedAsync(exception, cancellationToken);
            return;
        }

        State.Handle = handle;
        State.StartedAt = time.GetUtcNow();
        State.LastExitCode = null;
        State.OomKilled = false;
        _consecutiveProbeFailures = 0;
        Apply(VPodTrigger.Launched, $"workload started ({handle})");

        // The record and the registry's summary are written side by side: the registry only mirrors the record.
        _tagged = null;
        await Task.WhenAll(state.WriteStateAsync(cancellationToken), UpdateRegistryAsync(cancellationToken));
        ObservePhase();
        LogLaunched(logger, Id, handle.ToString());
        EnsureHealthTimer();
    }

    private async Task OnLaunchFailedAsync(Exception exception, CancellationToken cancellationToken)
    {
        LogLaunchFailed(logger, exception, Id);
        StopHealthTimer();
        Apply(VPodTrigger.ProvisionFailed, $"could not start the workload: {exception.Message}");
        await AfterFailureAsync(WorkloadEnd.Crashed, cancellationToken);
    }

    private async Task CompleteStopAsync(StopOptions options, CancellationToken cancellationToken)
    {
        StopHealthTimer();
        if (State.Handle is { } handle)
        {
            State.LastExitCode = await Runtime.StopAsync(Id, handle, TimeSpan.FromSeconds(options.TimeoutSeconds), options.Force, cancellationToken);
        }

        Apply(VPodTrigger.StopCompleted, State.LastExitCode is { } code ? $"stopped (exit code {code})" : "stopped");
        State.Health = VPodHealth.Unknown;
        await PersistAsync(cancellationToken);
        LogStopped(logger, Id, State.LastExitCode);
    }

    private async Task CompleteDeleteAsync(StopOptions options, CancellationToken cancellationToken)
    {
        StopHealthTimer();
        if (State.Handle is { } handle)
        {
            await Runtime.StopAsync(Id, handle, TimeSpan.FromSeconds(options.TimeoutSeconds), options.Force, cancellationToken);
        }

        await Runtime.RemoveAsync(Id, State.Handle, cancellationToken);
        State.Handle = null;
        State.Provisioned = false;
        Apply(VPodTrigger.DeleteCompleted, "deleted");
        State.Health = VPodHealth.Unknown;
        _tagged = null;

        // The record stays as a tombstone so later operations on this id fail clearly; the registry forgets it.
        await state.WriteStateAsync(cancellationToken);
        metrics.VPodLeft(Id);
        await Task.WhenAll(GrainFactory.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default).RemoveAsync(Id, cancellationToken), ReleasePlacementAsync(cancellationToken));
        LogDeleted(logger, Id);
    }

    /// <summary>Moves to the phase the state machine gives, or throws without changing anything.</summary>
    private void Apply(VPodTrigger trigger, string reason)
    {
        var from = State.Phase;
        var to = VPodStateMachine.Next(from, trigger) ?? throw new InvalidVPodOperationException(Id, trigger, from);
        _tagged = null;
        var now = time.GetUtcNow();
        State.Phase = to;
        State.Reason = reason;
        State.UpdatedAt = now;
        State.Health = VPodStateMachine.HealthFor(to, State.Health);
        State.Transitions.Add(new VPodTransition(from, to, trigger, reason, now));
        if (State.Transitions.Count > _options.MaxTransitions)
        {
            State.Transitions.RemoveRange(0, State.Transitions.Count - _options.MaxTransitions);
        }
    }

    /// <summary>Writes the record, then (unless <paramref name="updateRegistry"/> is false) the registry's summary of it.</summary>
    private async Task PersistAsync(CancellationToken cancellationToken, bool updateRegistry = true)
    {
        _tagged = null;
        await state.WriteStateAsync(cancellationToken);
        ObservePhase();
        if (updateRegistry)
        {
            await UpdateRegistryAsync(cancellationToken);
        }
    }

    private void ObservePhase()
    {
        if (State.Spec is { } spec)
        {
            metrics.VPodObserved(Id, State.Phase, spec.Type, spec.DeploymentMethod, spec.Cluster);
        }
    }

    /// <summary>Sends the registry the summary of the record as it is now; a failure is logged, not thrown.</summary>
    private async Task UpdateRegistryAsync(CancellationToken cancellationToken)
    {
        try
        {
            await GrainFactory.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default).UpsertAsync(ToSummary(), cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The vPod record is the source of truth; the registry catches up at the next transition.
            LogRegistryUpdateFailed(logger, exception, Id);
        }
    }

    private void EnsureExists()
    {
        if (!state.RecordExists || State.Spec is null)
        {
            DeactivateOnIdle();
            throw new VPodNotFoundException(Id);
        }
    }

    private static void ValidateTimeout(StopOptions options)
    {
        if (options.TimeoutSeconds is < 0 or > 3600)
        {
            throw new InvalidVPodSpecException($"timeout '{options.TimeoutSeconds}' seconds is invalid: use 0-3600.");
        }
    }

    private VPodStatus ToStatus() =>
        VPodStatusMapping.ToStatus(Id, Spec, State, _identityError, VPodStatusMapping.LimitsNotEnforced(runtimes, Spec.DeploymentMethod));

    private VPodSummary ToSummary() => VPodStatusMapping.ToSummary(Id, Spec, State);
}
