using MetaNode.Grains.Placement;
using MetaNode.Orchestration;
using MetaNode.Placement;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace MetaNode.Grains.Orchestration;

/// <summary>
/// On every silo: registers the silo's capacity with the placement ledger, then on each renewal period starts the election
/// agents (<see cref="IOrchestratorGrain"/>, placed locally) of the orchestrator vPods the ledger placed on this silo, and
/// stands down those that moved away.
/// </summary>
public sealed partial class OrchestratorKeeper(
    IGrainFactory grainFactory,
    ILocalSiloDetails localSilo,
    IOptions<SiloCapacityOptions> capacity,
    IOptions<OrchestrationOptions> options,
    TimeProvider time,
    ILogger<OrchestratorKeeper> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<string> _started = new(StringComparer.Ordinal);
    private Task _loop = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(OrchestratorKeeper), ServiceLifecycleStage.Active, OnActiveAsync, OnStopAsync);

    private Task OnActiveAsync(CancellationToken cancellationToken)
    {
        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task OnStopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _loop.WaitAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var ledger = grainFactory.GetGrain<IPlacementLedgerGrain>(PlacementLedgerKeys.Default);
        var registered = false;
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (!registered)
                {
                    await ledger.RegisterSiloAsync(localSilo.SiloAddress, capacity.Value.ToCapacity(), cancellationToken);
                    registered = true;
                }

                await KeepAgentsAsync(ledger, cancellationToken);
                failures = 0;
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                if (failures++ % 10 == 0)
                {
                    LogKeepFailed(logger, exception);
                }
            }

            try
            {
                await Task.Delay(options.Value.RenewalPeriod, time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task KeepAgentsAsync(IPlacementLedgerGrain ledger, CancellationToken cancellationToken)
    {
        var local = (await ledger.ListAsync(localSilo.SiloAddress, cancellationToken))
            .Where(r => r.Request.Type == VPodType.Orchestrator && r.Request.Cluster is not null)
            .ToList();
        foreach (var reservation in local)
        {
            await grainFactory.GetGrain<IOrchestratorGrain>(reservation.Request.VPodId).EnsureStartedAsync(reservation.Request.Cluster!, cancellationToken);
            _started.Add(reservation.Request.VPodId);
        }

        foreach (var moved in _started.Where(id => local.All(r => r.Request.VPodId != id)).ToList())
        {
            await grainFactory.GetGrain<IOrchestratorGrain>(moved).StandDownAsync("its vPod is no longer on this silo", cancellationToken);
            _started.Remove(moved);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not start the local orchestrator agents; retrying every renewal period")]
    private static partial void LogKeepFailed(ILogger logger, Exception exception);
}
