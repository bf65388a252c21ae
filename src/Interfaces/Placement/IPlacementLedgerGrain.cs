using MetaNode.Security;
using MetaNode.VPods;
using Orleans.Concurrency;

namespace MetaNode.Placement;

/// <summary>What a silo offers to vPods.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Placement.SiloCapacity")]
public sealed record SiloCapacity(
    [property: Id(0)] long CpuMillis,
    [property: Id(1)] long MemoryBytes);

/// <summary>What a vPod asks of the silo it is placed on; the creator passes it to placement in the request context.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Placement.PlacementRequest")]
public sealed record PlacementRequest
{
    [Id(0)] public required string VPodId { get; init; }
    [Id(1)] public long CpuMillis { get; init; }
    [Id(2)] public long MemoryBytes { get; init; }
    [Id(3)] public string? Cluster { get; init; }
    [Id(4)] public VPodType Type { get; init; }
    /// <summary>Spread across silos: prefer silos holding the fewest vPods of the same cluster.</summary>
    [Id(5)] public bool Spread { get; init; }

    /// <summary>What a vPod of this spec asks of its silo: its cpu, memory, type, cluster and spreading.</summary>
    public static PlacementRequest For(string vpodId, VPodSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return new PlacementRequest
        {
            VPodId = vpodId,
            CpuMillis = spec.CpuMillis,
            MemoryBytes = spec.MemoryBytes,
            Cluster = spec.Cluster,
            Type = spec.Type,
            Spread = spec.HighAvailability,
        };
    }
}

/// <summary>A vPod's reservation on the silo it was placed on.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Placement.Reservation")]
public sealed record Reservation
{
    [Id(0)] public required PlacementRequest Request { get; init; }
    [Id(1)] public required SiloAddress Silo { get; init; }
    [Id(2)] public DateTimeOffset PlacedAt { get; init; }
    /// <summary>True when no silo had room and the vPod was placed on the least loaded one anyway.</summary>
    [Id(3)] public bool Overcommitted { get; init; }
}

/// <summary>Free capacity of one active silo.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Placement.SiloUsage")]
public sealed record SiloUsage(
    [property: Id(0)] SiloAddress Silo,
    [property: Id(1)] SiloCapacity Capacity,
    [property: Id(2)] long UsedCpuMillis,
    [property: Id(3)] long UsedMemoryBytes,
    [property: Id(4)] int VPods);

/// <summary>
/// The cluster-wide ledger of silo capacities and vPod reservations that the vPod placement director consults.
/// Key: <see cref="PlacementLedgerKeys.Default"/>.
/// </summary>
[Alias("MetaNode.Placement.IPlacementLedgerGrain")]
[SiloOnly]
public interface IPlacementLedgerGrain : IGrainWithStringKey
{
    [Alias("RegisterSilo")]
    Task RegisterSiloAsync(SiloAddress silo, SiloCapacity capacity, CancellationToken cancellationToken = default);

    /// <summary>Chooses a silo among <paramref name="candidates"/> and records the reservation there.</summary>
    [Alias("Place")]
    Task<Reservation> PlaceAsync(PlacementRequest request, SiloAddress[] candidates, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records what the vPod's own spec asks (<paramref name="request"/>) on the silo it was activated on. The size placement saw
    /// came from the creator's request context: absent when a client set none or the ledger could not be reached, and a client's
    /// word only. The reservation takes the spec's size, and counts as overcommitted when the silo has no room for it. Nothing is
    /// written when the reservation already says so.
    /// </summary>
    [Alias("Record")]
    Task<Reservation> RecordAsync(PlacementRequest request, SiloAddress silo, CancellationToken cancellationToken = default);

    /// <summary>
    /// Whether <paramref name="requests"/>, placed one after the other, fit on the active silos as they are now: for each
    /// request null when it fits, else why not.
    /// </summary>
    [Alias("CheckFit"), AlwaysInterleave]
    Task<IReadOnlyList<string?>> CheckFitAsync(IReadOnlyList<PlacementRequest> requests, CancellationToken cancellationToken = default);

    [Alias("Release")]
    Task ReleaseAsync(string vpodId, CancellationToken cancellationToken = default);

    [Alias("Get"), AlwaysInterleave]
    Task<Reservation?> GetAsync(string vpodId, CancellationToken cancellationToken = default);

    /// <summary>Reservations on <paramref name="silo"/> (all silos when null).</summary>
    [Alias("List"), AlwaysInterleave]
    Task<IReadOnlyList<Reservation>> ListAsync(SiloAddress? silo, CancellationToken cancellationToken = default);

    [Alias("GetUsage"), AlwaysInterleave]
    Task<IReadOnlyList<SiloUsage>> GetUsageAsync(CancellationToken cancellationToken = default);
}

public static class PlacementLedgerKeys
{
    public const string Default = "default";

    /// <summary>The request-context key under which a creator passes the <see cref="PlacementRequest"/> of the vPod it creates.</summary>
    public const string RequestContextKey = "metanode.placement";
}
