using System.Globalization;
using System.Runtime.CompilerServices;
using MetaNode.Chain;
using MetaNode.Grains.Chain;
using MetaNode.Grains.Hosting;
using MetaNode.Grains.Placement;
using MetaNode.Grains.Runtime;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.VPods;

/// <summary>
/// One vPod. Decisions come from <see cref="VPodStateMachine"/>, <see cref="RestartPolicyDecision"/> and
/// <see cref="HealthEvaluator"/>; the grain applies them, persists, and only then acts on the runtime.
/// </summary>
[GrainType("vpod"), VPodPlacement]
public sealed partial class VPodGrain : Grain, IVPodGrain
{
    private readonly IPersistentState<VPodState> _state;
    private readonly IVPodRuntimeResolver _runtimes;
    private readonly IWorkloadProbe _probe;
    private readonly VPodOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<VPodGrain> _logger;
    private readonly WorkloadIdentityVerifier _identity;
    private readonly ChainConnector _chain;
    private readonly MetaNodeMetrics _metrics;
    private IGrainTimer? _healthTimer;
    private TimeSpan _healthTimerPeriod;
    private IGrainTimer? _restartTimer;

    // The status is immutable and rebuilt only after the record changes: status calls are the hot path.
    private VPodStatus? _status;

    public VPodGrain(
        [PersistentState("vpod", MetaNodeNames.VPodStorage)] IPersistentState<VPodState> state,
        IVPodRuntimeResolver runtimes,
        IWorkloadProbe probe,
        IOptions<VPodOptions> options,
        TimeProvider time,
        ILogger<VPodGrain> logger,
        WorkloadIdentityVerifier identity,
        ChainConnector chain,
        MetaNodeMetrics metrics)
    {
        _metrics = metrics;
        _identity = identity;
        _chain = chain;
        _state = state;
        _runtimes = runtimes;
        _probe = probe;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    private string Id => this.GetPrimaryKeyString();

    private VPodState State => _state.State;

    private VPodSpec Spec => State.Spec ?? throw new VPodNotFoundException(Id);

    private IVPodRuntime Runtime => _runtimes.Resolve(Spec.DeploymentMethod);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (!_state.RecordExists || State.Spec is null)
        {
            return;
        }

        _metrics.VPodObserved(Id, State.Phase, State.Spec.Type, State.Spec.DeploymentMethod, State.Spec.Cluster);
        try
        {
            await ReconcileCoreAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The record stays as it was; the next call or silo start reconciles again.
            LogReconcileFailed(_logger, exception, Id, State.Phase);
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _metrics.VPodLeft(Id);
        if (reason.ReasonCode == DeactivationReasonCode.ShuttingDown
            && _state.RecordExists
            && State.Handle is { } handle
            && VPodStateMachine.HasWorkload(State.Phase)
            && !Runtime.WorkloadsOutliveSilo)
        {
            // The silo is going away and its runtime with it: remember to resume rather than count a failure.
            State.Interrupted = true;
            await _state.WriteStateAsync(cancellationToken);
            LogInterrupted(_logger, Id);
            await Runtime.StopAsync(Id, handle, _options.OrphanStopTimeout, force: false, cancellationToken);
        }
    }

    public async Task<VPodStatus> CreateAsync(VPodSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        VPodSpecValidation.ThrowIfInvalid(spec);
        if (_state.RecordExists && State.Spec is not null)
        {
            if (State.Phase != VPodPhase.Deleted && SameSpec(State.Spec, spec))
            {
                return ToStatus();
            }

            throw new InvalidVPodOperationException(Id, VPodTrigger.Create, State.Phase);
        }

        spec = WithDefaultPort(Normalize(spec));

        // What the runtime cannot honour (replicas on a process, host paths, claims the vPod does not own, ...) is refused here:
        // before the name is reserved or anything recorded.
        _runtimes.Resolve(spec.DeploymentMethod).ValidateSpec(Id, spec);
        var registry = GrainFactory.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default);
        var holder = await registry.ReserveNameAsync(spec.Name, Id, cancellationToken);
        if (holder is not null)
        {
            throw new InvalidVPodSpecException($"name '{spec.Name}' is already used by vPod '{holder}'.");
        }

        var now = _time.GetUtcNow();
        State.Spec = spec;
        State.CreatedAt = now;
        State.DesiredRunning = true;
        Apply(VPodTrigger.Create, "created");
        await PersistAsync(cancellationToken);
        LogCreated(_logger, Id, spec.Name, spec.Type, spec.DeploymentMethod);

        Apply(VPodTrigger.Start, "starting after create");
        await PersistAsync(cancellationToken);
        await ProvisionAndLaunchAsync(cancellationToken);
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
        return Task.FromResult(_status ??= ToStatus());
    }

    public async Task<VPodMetrics> GetMetricsAsync(CancellationToken cancellationToken = default)
    {
        EnsureExists();
        var usage = State.Handle is { } handle && VPodStateMachine.HasWorkload(State.Phase)
            ? await Runtime.GetUsageAsync(Id, handle, Spec, cancellationToken)
            : null;
        return new VPodMetrics
        {
            Id = Id,
            Phase = State.Phase,
            Resources = new ResourceUsage(usage?.CpuPercent ?? 0, usage?.MemoryBytes ?? 0, usage?.MemoryLimitBytes ?? Spec.MemoryBytes),
            Network = new NetworkUsage(usage?.NetworkRxBytes ?? 0, usage?.NetworkTxBytes ?? 0),
            Blockchain = State.Address is { } address
                ? await GrainFactory.GetGrain<IChainAccountGrain>(address).GetUsageAsync(cancellationToken)
                : new BlockchainUsage { LastBlockSeen = _chain.LastBlockSeen },
            CollectedAt = _time.GetUtcNow(),
        };
    }

    public Task<IReadOnlyList<LogLine>> GetLogsAsync(LogQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        EnsureExists();
        EnsureLogsAvailable();
        return Runtime.ReadLogsAsync(Id, State.Handle, LogQueries.Bounded(query), cancellationToken);
    }

    public async IAsyncEnumerable<LogLine> FollowLogsAsync(LogQuery query, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        EnsureExists();
        EnsureLogsAvailable();
        await foreach (var line in Runtime.FollowLogsAsync(Id, State.Handle, LogQueries.Bounded(query), cancellationToken))
        {
            yield return line;
        }
    }

    public async Task WriteDataAsync(VPodDataFiles files, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        EnsureExists();
        VPodDataValidation.ThrowIfInvalid(Id, files);
        if (!VPodStateMachine.HoldsData(State.Phase))
        {
            throw new InvalidVPodOperationException(Id, State.Phase, $"vPod '{Id}' cannot receive data files while {State.Phase}: it has no workload to hold them{(State.Phase is VPodPhase.Deleting or VPodPhase.Deleted ? string.Empty : "; retry once it is started")}.");
        }

        await Runtime.WriteDataFilesAsync(Id, Spec, State.Handle, files, cancellationToken);
        LogDataWritten(_logger, Id, files.Files.Count, files.TotalBytes);
    }

    public async Task<VPodStatus> VerifyIdentityAsync(CancellationToken cancellationToken = default)
    {
        EnsureExists();
        if (!VPodIdentityDecision.HoldsKey(Spec.Type))
        {
            throw new VPodIdentityException(Id, $"vPod '{Id}' is a {Spec.Type.ToString().ToLowerInvariant()} vPod: only compute and validator vPods hold a key.");
        }

        if (!VPodStateMachine.HasWorkload(State.Phase))
        {
            throw new VPodIdentityException(Id, $"vPod '{Id}' is {State.Phase}: start it so its workload can prove its identity.");
        }

        await ProveIdentityAsync(State.Handle?.Endpoint, cancellationToken);
        return ToStatus();
    }

    public async Task<VPodStatus> AdmitAddressAsync(string address, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        EnsureExists();
        if (State.ProvedAddress is not { } proved || !string.Equals(proved, address, StringComparison.OrdinalIgnoreCase))
        {
            throw new VPodIdentityException(Id, $"vPod '{Id}' has not proved address {address}{(State.ProvedAddress is { } last ? $" (it last proved {last})" : string.Empty)}: only an address its workload proved can be admitted.");
        }

        if (!string.Equals(State.Address, proved, StringComparison.OrdinalIgnoreCase))
        {
            LogAdmitted(_logger, Id, State.Address ?? "-", proved);
            State.Address = proved;
            await PersistAsync(cancellationToken);
        }

        return ToStatus();
    }

    /// <summary>Challenges the workload and records the address it proved (the first one is admitted); a failure is recorded and rethrown.</summary>
    private async Task ProveIdentityAsync(string? endpoint, CancellationToken cancellationToken)
    {
        string proved;
        try
        {
            proved = await _identity.ProveAsync(Id, endpoint, cancellationToken);
        }
        catch (VPodIdentityException exception)
        {
            _identityError = exception.Message;
            _status = null;
            throw;
        }

        _identityError = null;
        _identityCheckedAt = State.StartedAt;
        var admitted = VPodIdentityDecision.Admit(State.Address, proved);
        var changed = !string.Equals(State.ProvedAddress, proved, StringComparison.Ordinal) || !string.Equals(State.Address, admitted, StringComparison.Ordinal);
        State.ProvedAt = _time.GetUtcNow();
        if (changed)
        {
            State.ProvedAddress = proved;
            State.Address = admitted;
            if (VPodIdentityDecision.StateOf(Spec.Type, admitted, proved) == VPodIdentityState.Changed)
            {
                LogAddressChanged(_logger, Id, admitted, proved);
            }

            await PersistAsync(cancellationToken);
        }
        else
        {
            _status = null;
        }
    }

    public async Task<VPodStatus> ReconcileAsync(CancellationToken cancellationToken = default)
    {
        EnsureExists();
        await ReconcileCoreAsync(cancellationToken);
        return ToStatus();
    }

    /// <summary>Records a user operation: the phase it leads to, whether the workload should run, no pending policy restart; persisted before acting.</summary>
    private async Task BeginOperationAsync(VPodTrigger trigger, string reason, bool desiredRunning, CancellationToken cancellationToken)
    {
        Apply(trigger, reason);
        State.DesiredRunning = desiredRunning;
        CancelRestart();
        await PersistAsync(cancellationToken);
    }

    /// <summary>Brings the record and the runtime back in line: finishes half-done operations, adopts or replaces the workload.</summary>
    private async Task ReconcileCoreAsync(CancellationToken cancellationToken)
    {
        switch (State.Phase)
        {
            case VPodPhase.Pending:
                if (State.DesiredRunning)
                {
                    Apply(VPodTrigger.Start, "resuming create");
                    await PersistAsync(cancellationToken);
                    await ProvisionAndLaunchAsync(cancellationToken);
                }

                break;
            case VPodPhase.Provisioning:
                await ProvisionAndLaunchAsync(cancellationToken);
                break;
            case VPodPhase.Restarting:
                await RelaunchAsync(countRestart: false, cancellationToken);
                break;
            case VPodPhase.Stopping:
                await CompleteStopAsync(new StopOptions(), cancellationToken);
                break;
            case VPodPhase.Deleting:
                await CompleteDeleteAsync(new StopOptions(), cancellationToken);
                break;
            case VPodPhase.Starting or VPodPhase.Running or VPodPhase.Degraded:
                await ReconcileWorkloadAsync(cancellationToken);
                break;
            case VPodPhase.Failed or VPodPhase.Stopped when State.NextRestartAt is { } at:
                ScheduleRestart(at - _time.GetUtcNow());
                break;
        }
    }

    private async Task ReconcileWorkloadAsync(CancellationToken cancellationToken)
    {
        var observation = State.Handle is { } handle
            ? await Runtime.InspectAsync(Id, handle, cancellationToken)
            : WorkloadObservation.NotFound("no runtime handle was recorded");
        switch (observation.State)
        {
            case WorkloadState.Running:
                State.Interrupted = false;
                EnsureHealthTimer();
                LogAdopted(_logger, Id, State.Handle!.ToString());
                return;
            case WorkloadState.Exited:
                await OnWorkloadEndedAsync(RestartPolicyDecision.Classify(observation.ExitCode, observation.OomKilled), observation, cancellationToken);
                return;
            case WorkloadState.Orphaned:
                LogOrphan(_logger, Id, State.Handle!.ToString());
                await Runtime.StopAsync(Id, State.Handle!, _options.OrphanStopTimeout, force: false, cancellationToken);
                break;
        }

        if (State.Interrupted)
        {
            // The silo shut down under a healthy workload: start it again, which is not a failure.
            Apply(VPodTrigger.Restart, "resuming after silo shutdown");
            State.Interrupted = false;
            await PersistAsync(cancellationToken);
            await RelaunchAsync(countRestart: false, cancellationToken);
            return;
        }

        await OnWorkloadEndedAsync(WorkloadEnd.Lost, observation with { Detail = observation.Detail ?? "workload not found by the runtime" }, cancellationToken);
    }

    private async Task ProvisionAndLaunchAsync(CancellationToken cancellationToken)
    {
        if (State.Phase == VPodPhase.Provisioning)
        {
            if (!await TryProvisionAsync(cancellationToken))
            {
                return;
            }

            Apply(VPodTrigger.Provisioned, "provisioned");
            await PersistAsync(cancellationToken);
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
            _metrics.VPodRestarted(Spec.DeploymentMethod);
            await PersistAsync(cancellationToken);
        }

        if (!State.Provisioned && !await TryProvisionAsync(cancellationToken))
        {
            return;
        }

        await LaunchAsync(cancellationToken);
    }

    /// <summary>Has the runtime prepare the vPod; on failure records it (Failed, restart policy) and returns false.</summary>
    private async Task<bool> TryProvisionAsync(CancellationToken cancellationToken)
    {
        try
        {
            State.Handle = await Runtime.ProvisionAsync(Id, Spec, cancellationToken);
            State.Provisioned = true;
            return true;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
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
        State.StartedAt = _time.GetUtcNow();
        State.LastExitCode = null;
        State.OomKilled = false;
        _consecutiveProbeFailures = 0;
        Apply(VPodTrigger.Launched, $"workload started ({handle})");
        await PersistAsync(cancellationToken);
        LogLaunched(_logger, Id, handle.ToString());
        EnsureHealthTimer();
    }

    private async Task OnLaunchFailedAsync(Exception exception, CancellationToken cancellationToken)
    {
        LogLaunchFailed(_logger, exception, Id);
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
        LogStopped(_logger, Id, State.LastExitCode);
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
        _status = null;

        // The record stays as a tombstone so later operations on this id fail clearly; the registry forgets it.
        await _state.WriteStateAsync(cancellationToken);
        _metrics.VPodLeft(Id);
        await GrainFactory.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default).RemoveAsync(Id, cancellationToken);
        LogDeleted(_logger, Id);
    }

    private int _consecutiveProbeFailures;

    // The launch whose workload proved its identity (or failed to) in this activation, and why the last challenge failed.
    private DateTimeOffset? _identityCheckedAt;
    private string? _identityError;

    private async Task OnHealthTickAsync(CancellationToken cancellationToken)
    {
        using var scope = _logger.BeginVPod(Id);
        if (!VPodStateMachine.HasWorkload(State.Phase) || State.Handle is not { } handle)
        {
            StopHealthTimer();
            return;
        }

        var observation = await Runtime.InspectAsync(Id, handle, cancellationToken);
        switch (observation.State)
        {
            case WorkloadState.Exited:
                await OnWorkloadEndedAsync(RestartPolicyDecision.Classify(observation.ExitCode, observation.OomKilled), observation, cancellationToken);
                return;
            case WorkloadState.NotFound:
                await OnWorkloadEndedAsync(WorkloadEnd.Lost, observation, cancellationToken);
                return;
            case WorkloadState.Orphaned:
                await Runtime.StopAsync(Id, handle, _options.OrphanStopTimeout, force: false, cancellationToken);
                await OnWorkloadEndedAsync(WorkloadEnd.Lost, observation, cancellationToken);
                return;
            case WorkloadState.Running:
                break;
            default:
                return;
        }

        var healthy = handle.Endpoint is not { } endpoint || await ProbeAsync(endpoint, cancellationToken);

        // The probe awaited: a stop or delete may have run meanwhile.
        if (!VPodStateMachine.HasWorkload(State.Phase) || State.Handle != handle)
        {
            return;
        }

        _consecutiveProbeFailures = healthy ? 0 : _consecutiveProbeFailures + 1;
        var now = _time.GetUtcNow();
        var inGrace = State.Phase == VPodPhase.Starting && State.StartedAt is { } started && now - started < _options.StartupGracePeriod;
        var trigger = HealthEvaluator.Evaluate(healthy, _consecutiveProbeFailures, _options.FailureThreshold, inGrace);
        if (trigger == VPodTrigger.ProbeUnhealthy)
        {
            LogUnhealthy(_logger, Id, _consecutiveProbeFailures);
            await Runtime.StopAsync(Id, handle, _options.OrphanStopTimeout, force: false, cancellationToken);
            await OnWorkloadEndedAsync(WorkloadEnd.Unhealthy, new WorkloadObservation(WorkloadState.Running, Detail: $"{_consecutiveProbeFailures} health probes failed in a row"), cancellationToken);
            return;
        }

        var before = (State.Phase, State.Health);
        State.Health = trigger == VPodTrigger.ProbeHealthy ? VPodHealth.Healthy : VPodHealth.Degraded;
        if (VPodStateMachine.Next(State.Phase, trigger) is { } next && next != State.Phase)
        {
            Apply(trigger, trigger == VPodTrigger.ProbeHealthy ? "health probe passed" : "health probe failed");
        }

        if (State.Phase == VPodPhase.Running && State.StartedAt is { } since && now - since >= _options.BackoffResetAfter)
        {
            State.ConsecutiveFailures = 0;
        }

        if (before != (State.Phase, State.Health))
        {
            await PersistAsync(cancellationToken);
        }

        if (State.Phase != VPodPhase.Starting)
        {
            EnsureHealthTimer();
        }

        if (healthy && VPodIdentityDecision.HoldsKey(Spec.Type) && handle.Endpoint is not null && _identityCheckedAt != State.StartedAt)
        {
            // Once per launch: the workload proves the key it holds (a restarted or re-adopted workload keeps its key).
            _identityCheckedAt = State.StartedAt;
            try
            {
                await ProveIdentityAsync(handle.Endpoint, cancellationToken);
            }
            catch (VPodIdentityException exception)
            {
                LogIdentityFailed(_logger, Id, exception.Message);
            }
        }
    }

    private async Task OnWorkloadEndedAsync(WorkloadEnd end, WorkloadObservation observation, CancellationToken cancellationToken)
    {
        StopHealthTimer();
        State.LastExitCode = observation.ExitCode;
        State.OomKilled = observation.OomKilled;
        var trigger = end switch
        {
            WorkloadEnd.Completed => VPodTrigger.Completed,
            WorkloadEnd.Crashed => VPodTrigger.Exited,
            WorkloadEnd.Unhealthy => VPodTrigger.ProbeUnhealthy,
            _ => VPodTrigger.Lost,
        };
        var reason = end switch
        {
            WorkloadEnd.Completed => "workload exited with code 0",
            WorkloadEnd.Crashed when observation.OomKilled => $"workload was killed: out of memory (exit code {observation.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}, memory limit {ResourceQuantity.FormatMemory(Spec.MemoryBytes)})",
            WorkloadEnd.Crashed => $"workload exited with code {observation.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}",
            WorkloadEnd.Unhealthy => $"unhealthy: {observation.Detail}",
            _ => $"workload lost: {observation.Detail}",
        };
        LogWorkloadEnded(_logger, Id, end, reason);
        Apply(trigger, reason);
        await AfterFailureAsync(end, cancellationToken);
    }

    /// <summary>Applies the restart policy after the workload ended; the phase is already Failed or Stopped.</summary>
    private async Task AfterFailureAsync(WorkloadEnd end, CancellationToken cancellationToken)
    {
        State.Health = State.Phase == VPodPhase.Failed ? VPodHealth.Unhealthy : VPodHealth.Unknown;
        var now = _time.GetUtcNow();
        if (State.StartedAt is { } started && now - started >= _options.BackoffResetAfter)
        {
            State.ConsecutiveFailures = 0;
        }

        if (end != WorkloadEnd.Completed)
        {
            State.ConsecutiveFailures++;
        }

        if (RestartPolicyDecision.ShouldRestart(Spec.RestartPolicy, end))
        {
            var delay = RestartPolicyDecision.Backoff(Math.Max(1, State.ConsecutiveFailures), _options.RestartBackoffInitial, _options.RestartBackoffCap);
            State.NextRestartAt = now + delay;
            await PersistAsync(cancellationToken);
            LogRestartScheduled(_logger, Id, delay, Spec.RestartPolicy);
            ScheduleRestart(delay);
        }
        else
        {
            State.NextRestartAt = null;
            State.DesiredRunning = false;
            await PersistAsync(cancellationToken);
        }
    }

    private void ScheduleRestart(TimeSpan delay)
    {
        CancelRestartTimer();
        _restartTimer = this.RegisterGrainTimer(
            _ => OnRestartDueAsync(CancellationToken.None),
            new GrainTimerCreationOptions(delay < TimeSpan.Zero ? TimeSpan.Zero : delay, Timeout.InfiniteTimeSpan) { KeepAlive = true });
    }

    private async Task OnRestartDueAsync(CancellationToken cancellationToken)
    {
        CancelRestartTimer();
        if (State.NextRestartAt is null || VPodStateMachine.Next(State.Phase, VPodTrigger.BackoffElapsed) is null)
        {
            return;
        }

        State.NextRestartAt = null;
        State.DesiredRunning = true;
        Apply(VPodTrigger.BackoffElapsed, $"restart policy {Spec.RestartPolicy}: restarting");
        await PersistAsync(cancellationToken);
        await RelaunchAsync(countRestart: true, cancellationToken);
    }

    private void CancelRestart()
    {
        State.NextRestartAt = null;
        CancelRestartTimer();
    }

    private void CancelRestartTimer()
    {
        _restartTimer?.Dispose();
        _restartTimer = null;
    }

    // Timer callbacks run with CancellationToken.None: a tick stops or replaces its own timer (after a failure,
    // a restart, a phase change), and disposing a grain timer cancels the token of the tick that is running.
    private void EnsureHealthTimer()
    {
        var period = State.Phase == VPodPhase.Starting ? _options.StartupProbeInterval : _options.ProbeInterval;
        if (_healthTimer is not null && _healthTimerPeriod == period)
        {
            return;
        }

        StopHealthTimer();
        _healthTimerPeriod = period;
        _healthTimer = this.RegisterGrainTimer(_ => OnHealthTickAsync(CancellationToken.None), new GrainTimerCreationOptions(period, period) { KeepAlive = true });
    }

    private void StopHealthTimer()
    {
        _healthTimer?.Dispose();
        _healthTimer = null;
    }

    /// <summary>Moves to the phase the state machine gives, or throws without changing anything.</summary>
    private void Apply(VPodTrigger trigger, string reason)
    {
        var from = State.Phase;
        var to = VPodStateMachine.Next(from, trigger) ?? throw new InvalidVPodOperationException(Id, trigger, from);
        _status = null;
        var now = _time.GetUtcNow();
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

    private async Task<bool> ProbeAsync(string endpoint, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var healthy = await _probe.IsHealthyAsync(endpoint, cancellationToken);
        _metrics.ProbeCompleted(_time.GetElapsedTime(started), healthy);
        return healthy;
    }

    private async Task PersistAsync(CancellationToken cancellationToken)
    {
        _status = null;
        await _state.WriteStateAsync(cancellationToken);
        if (State.Spec is { } spec)
        {
            _metrics.VPodObserved(Id, State.Phase, spec.Type, spec.DeploymentMethod, spec.Cluster);
        }

        try
        {
            await GrainFactory.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default).UpsertAsync(ToSummary(), cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The vPod record is the source of truth; the registry catches up at the next transition.
            LogRegistryUpdateFailed(_logger, exception, Id);
        }
    }

    private void EnsureExists()
    {
        if (!_state.RecordExists || State.Spec is null)
        {
            DeactivateOnIdle();
            throw new VPodNotFoundException(Id);
        }
    }

    private void EnsureLogsAvailable()
    {
        if (State.Phase == VPodPhase.Deleted)
        {
            throw new InvalidVPodOperationException(Id, VPodTrigger.None, State.Phase);
        }
    }

    private static void ValidateTimeout(StopOptions options)
    {
        if (options.TimeoutSeconds is < 0 or > 3600)
        {
            throw new InvalidVPodSpecException($"timeout '{options.TimeoutSeconds}' seconds is invalid: use 0-3600.");
        }
    }

    /// <summary>
    /// Whether a create asks for exactly the vPod that exists: the whole normalized spec is equal (environment, volumes, labels,
    /// storage, network policy… included; maps compared as sets), except that a requested port 0 — or no port at all — matches the
    /// port the vPod was given.
    /// </summary>
    internal static bool SameSpec(VPodSpec existing, VPodSpec requested)
    {
        IReadOnlyList<int> ports = requested.Ports.Count == 0
            ? existing.Ports
            : requested.Ports.Count == existing.Ports.Count ? [.. requested.Ports.Zip(existing.Ports, (asked, given) => asked == 0 ? given : asked)] : requested.Ports;
        return Canonical(existing) == Canonical(Normalize(requested) with { Ports = ports });
    }

    private static string Canonical(VPodSpec spec) => System.Text.Json.JsonSerializer.Serialize(spec with
    {
        Env = new SortedDictionary<string, string>(spec.Env.ToDictionary(), StringComparer.Ordinal),
        Labels = new SortedDictionary<string, string>(spec.Labels.ToDictionary(), StringComparer.Ordinal),
    });

    /// <summary>
    /// Copies the spec's collections into plain arrays and dictionaries: whatever collection types a caller used
    /// (including compiler-generated ones) never reach persisted state, and status calls serialize compactly.
    /// </summary>
    private static VPodSpec Normalize(VPodSpec spec) => spec with
    {
        Command = spec.Command.ToArray(),
        Ports = spec.Ports.ToArray(),
        Volumes = spec.Volumes.ToArray(),
        Env = new Dictionary<string, string>(spec.Env),
        Labels = new Dictionary<string, string>(spec.Labels),
    };

    /// <summary>
    /// A process vPod gets free loopback ports so several can run side by side: each port 0 in its spec is replaced by a
    /// free port, and one running the reference workload with no port at all gets one.
    /// </summary>
    private static VPodSpec WithDefaultPort(VPodSpec spec)
    {
        if (spec.DeploymentMethod != DeploymentMethod.Process)
        {
            return spec;
        }

        if (spec.Ports.Count == 0)
        {
            return string.IsNullOrEmpty(spec.Image) && spec.Command.Count == 0 ? spec with { Ports = new[] { LoopbackPorts.Free(1)[0] } } : spec;
        }

        var wanted = spec.Ports.Count(port => port == 0);
        if (wanted == 0)
        {
            return spec;
        }

        var free = new Queue<int>(LoopbackPorts.Free(wanted).Where(port => !spec.Ports.Contains(port)));
        while (free.Count < wanted)
        {
            foreach (var port in LoopbackPorts.Free(wanted - free.Count).Where(port => !spec.Ports.Contains(port) && !free.Contains(port)))
            {
                free.Enqueue(port);
            }
        }

        return spec with { Ports = spec.Ports.Select(port => port == 0 ? free.Dequeue() : port).ToArray() };
    }

    private VPodStatus ToStatus() => new()
    {
        Id = Id,
        Name = Spec.Name,
        Type = Spec.Type,
        DeploymentMethod = Spec.DeploymentMethod,
        Phase = State.Phase,
        Health = State.Health,
        RestartCount = State.RestartCount,
        Handle = State.Handle,
        CreatedAt = State.CreatedAt,
        StartedAt = State.StartedAt,
        UpdatedAt = State.UpdatedAt,
        LastExitCode = State.LastExitCode,
        Reason = State.Reason,
        Transitions = State.Transitions.ToArray(),
        Endpoint = State.Handle?.Endpoint,
        Spec = Spec,
        NextRestartAt = State.NextRestartAt,
        Address = State.Address,
        OomKilled = State.OomKilled,
        Identity = VPodIdentityDecision.StateOf(Spec.Type, State.Address, State.ProvedAddress),
        ProvedAddress = State.ProvedAddress,
        ProvedAt = State.ProvedAt,
        IdentityError = _identityError,
        LimitsNotEnforced = LimitsNotEnforced(),
    };

    private string? LimitsNotEnforced()
    {
        try
        {
            return Runtime.LimitsNotEnforced;
        }
        catch (InvalidVPodSpecException ex)
        {
            return ex.Message; // no runtime for this method on the silo hosting the vPod
        }
    }

    private VPodSummary ToSummary() => new()
    {
        Id = Id,
        Name = Spec.Name,
        Type = Spec.Type,
        DeploymentMethod = Spec.DeploymentMethod,
        Phase = State.Phase,
        Health = State.Health,
        RestartCount = State.RestartCount,
        CreatedAt = State.CreatedAt,
        UpdatedAt = State.UpdatedAt,
        ShouldRun = State.DesiredRunning || State.NextRestartAt is not null || VPodStateMachine.IsTransitional(State.Phase),
    };
}
