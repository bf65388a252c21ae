using MetaNode.Grains.Placement;
using MetaNode.Orchestration;
using MetaNode.Placement;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Orchestration;

/// <summary>
/// On every silo: registers the silo's capacity with the placement ledger, then on each renewal period makes sure the election
/// agent (<see cref="IOrchestratorGrain"/>, placed next to its vPod) of every orchestrator vPod in the ledger is running.
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
        // Every silo keeps every agent running (an agent already active answers at once); agents place themselves next to
        // their vPods, so this does not depend on the ledger knowing exactly where each vPod ended up.
        var orchestrators = (await ledger.ListAsync(null, cancellationToken))
            .Where(r => r.Request.Type == VPodType.Orchestrator && r.Request.Cluster is not null)
            .ToList();
        foreach (var reservation in orchestrators)
        {
            await grainFactory.GetGrain<IOrchestratorGrain>(reservation.Request.VPodId).EnsureStartedAsync(reservation.Request.Cluster!, cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not start the local orchestrator agents; retrying every renewal period")]
    private static partial void LogKeepFailed(ILogger logger, Exception exception);
}
