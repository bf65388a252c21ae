using MetaNode.Grains.Hosting;
using MetaNode.Placement;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Placement;

[GenerateSerializer, Alias("MetaNode.Placement.PlacementLedgerState")]
public sealed class PlacementLedgerState
{
    [Id(0)] public Dictionary<string, Reservation> Reservations { get; set; } = [];
    [Id(1)] public Dictionary<SiloAddress, SiloCapacity> Capacities { get; set; } = [];
}

/// <summary>
/// Silo capacities and vPod reservations, persisted so placement survives the loss of the silo that held the ledger.
/// Decisions come from <see cref="PlacementDecision"/>. Reservations of vPods no longer in the vPod registry and
/// capacities of dead silos are pruned on a timer.
/// </summary>
/// <remarks>
/// Reentrant: every call decides and changes the state before its first await, so the placements of many vPods at once
/// (a dead silo's, all re-activated together) interleave here and share the ledger's writes instead of queueing one write
/// each. A placement is answered only once a write holding it has succeeded.
/// </remarks>
[GrainType("placement-ledger"), Orleans.Concurrency.Reentrant]
public sealed partial class PlacementLedgerGrain(
    [PersistentState("ledger", MetaNodeNames.VPodStorage)] IPersistentState<PlacementLedgerState> state,
    IClusterMembershipService membership,
    IOptions<SiloCapacityOptions> capacity,
    TimeProvider time,
    ILogger<PlacementLedgerGrain> logger) : Grain, IPlacementLedgerGrain
{
    private static readonly TimeSpan PrunePeriod = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan PruneAfter = TimeSpan.FromMinutes(1);
    private readonly SiloCapacity _assumed = capacity.Value.ToCapacity();
    private readonly SharedStateWriter<PlacementLedgerState> _writer = new(state);

    private PlacementLedgerState State => state.State;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        this.RegisterGrainTimer(_ => PruneAsync(CancellationToken.None), new GrainTimerCreationOptions(PrunePeriod, PrunePeriod) { Interleave = false });
        return Task.CompletedTask;
    }

    public async Task RegisterSiloAsync(SiloAddress silo, SiloCapacity capacity, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(capacity);
        if (State.Capacities.TryGetValue(silo, out var known) && known == capacity)
        {
            return;
        }

        State.Capacities[silo] = capacity;
        await _writer.WriteAsync(cancellationToken);
        LogSiloRegistered(logger, silo, capacity.CpuMillis, capacity.MemoryBytes);
    }

    public async Task<Reservation> PlaceAsync(PlacementRequest request, SiloAddress[] candidates, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(candidates);
        if (State.Reservations.TryGetValue(request.VPodId, out var earlier) && request.CpuMillis == 0 && request.MemoryBytes == 0)
        {
            // Re-activation without a size: keep what the vPod asked for when it was created.
            request = earlier.Request;
        }

        var usage = PlacementDecision.Usage(candidates, CapacityOf, State.Reservations.Values, request.VPodId);
        var silo = PlacementDecision.Choose(request, usage, State.Reservations.Values);
        var overcommitted = silo is null;
        if (silo is null)
        {
            silo = PlacementDecision.LeastLoaded(usage);
            LogOvercommitted(logger, request.VPodId, silo, PlacementDecision.NoFitReason(request, usage));
        }

        var reservation = new Reservation { Request = request, Silo = silo, PlacedAt = time.GetUtcNow(), Overcommitted = overcommitted };
        State.Reservations[request.VPodId] = reservation;
        await _writer.WriteAsync(cancellationToken);
        LogPlaced(logger, request.VPodId, silo, earlier?.Silo);
        return reservation;
    }

    public async Task<Reservation> RecordAsync(PlacementRequest request, SiloAddress silo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(silo);
        State.Reservations.TryGetValue(request.VPodId, out var earlier);
        if (earlier is not null && earlier.Request == request && earlier.Silo.Equals(silo))
        {
            return earlier;
        }

        var usage = PlacementDecision.Usage([silo], CapacityOf, State.Reservations.Values, request.VPodId);
        var reservation = new Reservation
        {
            Request = request,
            Silo = silo,
            PlacedAt = earlier?.PlacedAt ?? time.GetUtcNow(),
            Overcommitted = !PlacementDecision.Fits(request, usage[0]),
        };
        State.Reservations[request.VPodId] = reservation;
        await _writer.WriteAsync(cancellationToken);
        LogRecorded(logger, request.VPodId, silo, request.CpuMillis, request.MemoryBytes, earlier?.Request.CpuMillis ?? 0, earlier?.Request.MemoryBytes ?? 0, reservation.Overcommitted);
        return reservation;
    }

    public Task<IReadOnlyList<string?>> CheckFitAsync(IReadOnlyList<PlacementRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var active = ActiveSilos();
        var reservations = State.Reservations.Values.Where(r => !requests.Any(q => q.VPodId == r.Request.VPodId)).ToList();
        var usage = PlacementDecision.Usage(active, CapacityOf, reservations);
        return Task.FromResult(PlacementDecision.CheckFit(requests, usage, reservations));
    }

    public async Task ReleaseAsync(string vpodId, CancellationToken cancellationToken = default)
    {
        if (State.Reservations.Remove(vpodId))
        {
            await _writer.WriteAsync(cancellationToken);
        }
    }

    public Task<Reservation?> GetAsync(string vpodId, CancellationToken cancellationToken = default) =>
        Task.FromResult(State.Reservations.GetValueOrDefault(vpodId));

    public Task<IReadOnlyList<Reservation>> ListAsync(SiloAddress? silo, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<Reservation>>(State.Reservations.Values.Where(r => silo is null || r.Silo.Equals(silo)).ToArray());

    public Task<IReadOnlyList<SiloUsage>> GetUsageAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(PlacementDecision.Usage(ActiveSilos(), CapacityOf, State.Reservations.Values));

    private SiloCapacity CapacityOf(SiloAddress silo) => State.Capacities.GetValueOrDefault(silo) ?? _assumed;

    private SiloAddress[] ActiveSilos() =>
        membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).ToArray();

    private async Task PruneAsync(CancellationToken cancellationToken)
    {
        try
        {
            var known = (await GrainFactory.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default).ListAsync(cancellationToken)).Select(s => s.Id).ToHashSet();
            var cutoff = time.GetUtcNow() - PruneAfter;
            var gone = State.Reservations.Values.Where(r => r.PlacedAt < cutoff && !known.Contains(r.Request.VPodId)).Select(r => r.Request.VPodId).ToList();
            var snapshot = membership.CurrentSnapshot.Members;
            var dead = State.Capacities.Keys.Where(s => snapshot.TryGetValue(s, out var m) && m.Status == SiloStatus.Dead).ToList();
            foreach (var id in gone)
            {
                State.Reservations.Remove(id);
            }

            foreach (var silo in dead)
            {
                State.Capacities.Remove(silo);
            }

            if (gone.Count + dead.Count > 0)
            {
                await _writer.WriteAsync(cancellationToken);
                LogPruned(logger, gone.Count, dead.Count);
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogPruneFailed(logger, exception);
        }
    }
}
