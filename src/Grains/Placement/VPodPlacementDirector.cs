using MetaNode.Placement;
using Microsoft.Extensions.Logging;
using Orleans.Runtime.Placement;

namespace MetaNode.Grains.Placement;

/// <summary>
/// Places a vPod activation through the placement ledger: where its cpu and memory fit, spread across silos for
/// high-availability clusters. The size comes from the creator's request context (<see cref="PlacementLedgerKeys.RequestContextKey"/>)
/// or, when a vPod is re-activated (its silo died), from its earlier reservation. If the ledger cannot be reached the
/// vPod still gets a silo: a random compatible one, logged.
/// </summary>
public sealed partial class VPodPlacementDirector(IGrainFactory grainFactory, ILogger<VPodPlacementDirector> logger) : IPlacementDirector
{
    private static readonly TimeSpan LedgerTimeout = TimeSpan.FromSeconds(10);

    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target);
        var vpodId = target.GrainIdentity.Key.ToString()!;
        var request = target.RequestContextData is { } data
            && data.TryGetValue(PlacementLedgerKeys.RequestContextKey, out var value)
            && value is PlacementRequest hint && hint.VPodId == vpodId
                ? hint
                : new PlacementRequest { VPodId = vpodId };
        try
        {
            var ledger = grainFactory.GetGrain<IPlacementLedgerGrain>(PlacementLedgerKeys.Default);
            var reservation = await ledger.PlaceAsync(request, silos).WaitAsync(LedgerTimeout).ConfigureAwait(false);
            if (silos.Contains(reservation.Silo))
            {
                return reservation.Silo;
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogLedgerUnavailable(logger, exception, vpodId);
        }

        return silos[Random.Shared.Next(silos.Length)];
    }
}
