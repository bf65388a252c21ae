using MetaNode.Grains.Hosting;
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
    private readonly BackgroundLoop _loop = new();
    private bool _registered;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(OrchestratorKeeper), ServiceLifecycleStage.Active, OnActiveAsync, OnStopAsync);

    private Task OnActiveAsync(CancellationToken cancellationToken)
    {
        _loop.StartPeriodic(time, options.Value.RenewalPeriod, KeepAsync, exception => LogKeepFailed(logger, exception));
        return Task.CompletedTask;
    }

    private Task OnStopAsync(CancellationToken cancellationToken) => _loop.StopAsync(cancellationToken);

    private async Task KeepAsync(CancellationToken cancellationToken)
    {
        var ledger = grainFactory.GetGrain<IPlacementLedgerGrain>(PlacementLedgerKeys.Default);
        if (!_registered)
        {
            await ledger.RegisterSiloAsync(localSilo.SiloAddress, capacity.Value.ToCapacity(), cancellationToken);
            _registered = true;
        }

        await KeepAgentsAsync(ledger, cancellationToken);
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
}
