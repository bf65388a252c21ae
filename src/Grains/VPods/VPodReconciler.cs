using MetaNode.Grains.Hosting;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.VPods;

/// <summary>
/// When the silo becomes active, and whenever a silo of the cluster is declared dead, activates every vPod the
/// registry says should be running. Activation reconciles each one with its runtime (<see cref="VPodGrain"/>).
/// </summary>
public sealed partial class VPodReconciler(
    IGrainFactory grainFactory,
    IClusterMembershipService membership,
    ILogger<VPodReconciler> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>
    /// vPods reconciled at once. Each waits mostly on storage and on its runtime (a process launch, an engine call), so a silo
    /// resuming a thousand vPods keeps that many in flight rather than a core's worth.
    /// </summary>
    private const int Parallelism = 32;

    private readonly BackgroundLoop _watch = new();

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(VPodReconciler), ServiceLifecycleStage.Active, OnActiveAsync, OnStopAsync);

    private Task OnActiveAsync(CancellationToken cancellationToken)
    {
        _watch.Start(RunAsync);
        return Task.CompletedTask;
    }

    private Task OnStopAsync(CancellationToken cancellationToken) => _watch.StopAsync(cancellationToken);

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        await ReconcileAllAsync("silo started", cancellationToken);
        var dead = new HashSet<SiloAddress>();
        var first = true;
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(cancellationToken))
            {
                var newlyDead = snapshot.Members.Values
                    .Where(m => m.Status == SiloStatus.Dead && dead.Add(m.SiloAddress))
                    .Select(m => m.SiloAddress.ToString())
                    .ToList();
                // Silos already dead in the first snapshot were handled by the start-up pass.
                if (newlyDead.Count > 0 && !first)
                {
                    await ReconcileAllAsync($"silo {string.Join(", ", newlyDead)} declared dead", cancellationToken);
                }

                first = false;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task ReconcileAllAsync(string cause, CancellationToken cancellationToken)
    {
        try
        {
            var registry = grainFactory.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default);
            var due = (await registry.ListAsync(cancellationToken)).Where(s => s.ShouldRun).ToList();
            LogReconciling(logger, due.Count, cause);
            await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (summary, ct) =>
            {
                try
                {
                    await grainFactory.GetGrain<IVPodGrain>(summary.Id).ReconcileAsync(ct);
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    LogReconcileFailed(logger, exception, summary.Id);
                }
            });
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogReconcileAllFailed(logger, exception, cause);
        }
    }
}
