using MetaNode.Clusters;
using MetaNode.Orchestration;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MetaNode.Grains.Placement;

namespace MetaNode.Grains.Orchestration;

/// <summary>
/// The election agent of one orchestrator vPod, placed on the silo that hosts the vPod (<see cref="OrchestratorPlacement"/>;
/// the silos' <see cref="OrchestratorKeeper"/>s activate it). An agent that finds its vPod active elsewhere stands down and is
/// placed again next to it. While the vPod runs, a grain timer campaigns for the cluster's lease
/// or renews it; the leader starts a fenced reconciliation pass on each tick. When the vPod stops or fails the leader gives
/// the lease up at once; when its silo dies the lease expires and a follower takes over.
/// </summary>
[GrainType("orchestrator"), OrchestratorPlacement]
public sealed partial class OrchestratorGrain(
    IOptions<OrchestrationOptions> options,
    ILocalSiloDetails localSilo,
    TimeProvider time,
    ILogger<OrchestratorGrain> logger) : Grain, IOrchestratorGrain
{
    private readonly OrchestrationOptions _options = options.Value;
    private string? _cluster;
    private IGrainTimer? _timer;
    private long _term;
    private bool _leading;
    private DateTimeOffset _actsUntil;
    private Task _reconcile = Task.CompletedTask;
    private readonly string _instance = Guid.NewGuid().ToString("N");

    private string Id => this.GetPrimaryKeyString();

    public Task EnsureStartedAsync(string cluster, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(cluster);
        _cluster ??= cluster;
        _timer ??= this.RegisterGrainTimer(_ => TickAsync(CancellationToken.None), new GrainTimerCreationOptions(TimeSpan.Zero, _options.RenewalPeriod) { KeepAlive = true });
        return Task.CompletedTask;
    }

    public async Task StandDownAsync(string reason, CancellationToken cancellationToken = default)
    {
        _timer?.Dispose();
        _timer = null;
        await StepDownAsync(reason, cancellationToken);
        DeactivateOnIdle();
    }

    private ILeaderLeaseGrain Lease => GrainFactory.GetGrain<ILeaderLeaseGrain>(_cluster!);

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        if (_cluster is null)
        {
            return;
        }

        VPodStatus status;
        try
        {
            status = await GrainFactory.GetGrain<IVPodGrain>(Id).GetStatusAsync(cancellationToken);
        }
        catch (VPodNotFoundException)
        {
            await StandDownAsync("its vPod does not exist", cancellationToken);
            return;
        }

        if (status.Phase is VPodPhase.Deleting or VPodPhase.Deleted)
        {
            await StandDownAsync("its vPod was deleted", cancellationToken);
            return;
        }

        var host = await FindVPodAsync();
        if (host is not null && !host.Equals(localSilo.SiloAddress))
        {
            await StandDownAsync($"its vPod runs on {host}", cancellationToken);
            return;
        }

        if (status.Phase != VPodPhase.Running)
        {
            // Only a running orchestrator leads; a leader whose vPod stopped or failed hands over at once.
            await StepDownAsync($"its vPod is {status.Phase}", cancellationToken);
            return;
        }

        var sentAt = time.GetUtcNow();
        var grant = await Lease.AcquireOrRenewAsync(Id, _instance, localSilo.SiloAddress.ToString(), cancellationToken);
        if (!grant.Granted)
        {
            if (_leading)
            {
                LogLostLease(logger, Id, _cluster, _term, grant.Lease.Holder, grant.Lease.Term);
            }

            _leading = false;
            return;
        }

        if (!_leading || grant.Lease.Term != _term)
        {
            LogLeading(logger, Id, _cluster, grant.Lease.Term);
        }

        _leading = true;
        _term = grant.Lease.Term;
        _actsUntil = LeaderElection.ActsUntil(sentAt, grant.Lease.Ttl, _options.MaxClockSkew);
        if (_reconcile.IsCompleted && time.GetUtcNow() < _actsUntil)
        {
            // Not awaited: a long pass must not delay the next renewal.
            _reconcile = ReconcileAsync(_cluster, _term);
        }
    }

    /// <summary>The silo where the vPod's grain is active; null when unknown (not active, or the lookup did not answer in time).</summary>
    private async Task<SiloAddress?> FindVPodAsync()
    {
        try
        {
            return await GrainFactory.GetGrain<IManagementGrain>(0).GetActivationAddress(GrainFactory.GetGrain<IVPodGrain>(Id)).AsTask().WaitAsync(_options.RenewalPeriod);
        }
        catch (Exception exception) when (exception is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException)
        {
            return null;
        }
    }

    private async Task ReconcileAsync(string cluster, long term)
    {
        try
        {
            await GrainFactory.GetGrain<IVPodClusterGrain>(cluster).ReconcileAsLeaderAsync(new LeaderCommand(Id, term));
        }
        catch (StaleLeaderTermException exception)
        {
            LogFenced(logger, Id, cluster, term, exception.CurrentTerm);
            _leading = false;
        }
        catch (ClusterNotFoundException)
        {
            await StandDownAsync("its cluster does not exist", CancellationToken.None);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogReconcileFailed(logger, exception, Id, cluster, term);
        }
    }

    private async Task StepDownAsync(string reason, CancellationToken cancellationToken)
    {
        if (!_leading || _cluster is null)
        {
            return;
        }

        _leading = false;
        try
        {
            await Lease.ReleaseAsync(Id, _term, $"{Id} stepped down: {reason}", cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The lease then simply expires.
            LogReleaseFailed(logger, exception, Id, _cluster, _term);
        }
    }
}
