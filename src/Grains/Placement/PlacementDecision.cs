using MetaNode.Placement;

namespace MetaNode.Grains.Placement;

/// <summary>Where a vPod goes, as pure functions over silo capacities and the reservations already made.</summary>
public static class PlacementDecision
{
    /// <summary>Free capacity of each candidate, not counting <paramref name="excludeVPodId"/>'s own reservation.</summary>
    public static IReadOnlyList<SiloUsage> Usage(
        IReadOnlyList<SiloAddress> candidates,
        Func<SiloAddress, SiloCapacity> capacityOf,
        IEnumerable<Reservation> reservations,
        string? excludeVPodId = null)
    {
        var bySilo = reservations.Where(r => r.Request.VPodId != excludeVPodId).ToLookup(r => r.Silo);
        return candidates
            .Select(s => new SiloUsage(s, capacityOf(s), bySilo[s].Sum(r => r.Request.CpuMillis), bySilo[s].Sum(r => r.Request.MemoryBytes), bySilo[s].Count()))
            .ToArray();
    }

    /// <summary>
    /// The silo for <paramref name="request"/>: among those where it fits, the one with the fewest members of the same
    /// cluster when spreading, then the least loaded, then the one holding the fewest vPods (so vPods that ask for no cpu or
    /// memory, which leave every load at zero, still spread); null when it fits nowhere.
    /// </summary>
    public static SiloAddress? Choose(PlacementRequest request, IReadOnlyList<SiloUsage> usage, IEnumerable<Reservation> reservations)
    {
        ArgumentNullException.ThrowIfNull(request);
        var sameCluster = request.Spread && request.Cluster is { } cluster
            ? reservations.Where(r => r.Request.Cluster == cluster && r.Request.VPodId != request.VPodId).GroupBy(r => r.Silo).ToDictionary(g => g.Key, g => g.Count())
            : [];
        return usage
            .Where(u => Fits(request, u))
            .OrderBy(u => sameCluster.GetValueOrDefault(u.Silo))
            .ThenBy(Load)
            .ThenBy(u => u.VPods)
            .ThenBy(u => u.Silo.ToString(), StringComparer.Ordinal)
            .Select(u => u.Silo)
            .FirstOrDefault();
    }

    /// <summary>The least loaded silo: where a vPod that fits nowhere goes when it must run somewhere.</summary>
    public static SiloAddress LeastLoaded(IReadOnlyList<SiloUsage> usage) =>
        usage.OrderBy(Load).ThenBy(u => u.VPods).ThenBy(u => u.Silo.ToString(), StringComparer.Ordinal).First().Silo;

    public static bool Fits(PlacementRequest request, SiloUsage usage) =>
        usage.Capacity.CpuMillis - usage.UsedCpuMillis >= request.CpuMillis
        && usage.Capacity.MemoryBytes - usage.UsedMemoryBytes >= request.MemoryBytes;

    /// <summary>Checks <paramref name="requests"/> placed one after the other: for each, null when it fits, else why not.</summary>
    public static IReadOnlyList<string?> CheckFit(IReadOnlyList<PlacementRequest> requests, IReadOnlyList<SiloUsage> usage, IReadOnlyList<Reservation> reservations)
    {
        var current = usage.ToList();
        var placed = reservations.ToList();
        var result = new List<string?>();
        foreach (var request in requests)
        {
            var silo = Choose(request, current, placed);
            if (silo is null)
            {
                result.Add(NoFitReason(request, current));
                continue;
            }

            var index = current.FindIndex(u => u.Silo.Equals(silo));
            var u = current[index];
            current[index] = u with { UsedCpuMillis = u.UsedCpuMillis + request.CpuMillis, UsedMemoryBytes = u.UsedMemoryBytes + request.MemoryBytes, VPods = u.VPods + 1 };
            placed.Add(new Reservation { Request = request, Silo = silo });
            result.Add(null);
        }

        return result;
    }

    public static string NoFitReason(PlacementRequest request, IReadOnlyList<SiloUsage> usage)
    {
        var need = $"cpu {MetaNode.VPods.ResourceQuantity.FormatCpu(request.CpuMillis)}, memory {MetaNode.VPods.ResourceQuantity.FormatMemory(request.MemoryBytes)}";
        if (usage.Count == 0)
        {
            return $"no active silo to place it on (needs {need})";
        }

        var best = usage.OrderByDescending(u => u.Capacity.CpuMillis - u.UsedCpuMillis).First();
        return $"no silo has room for {need}; the most free is {best.Silo}: cpu {MetaNode.VPods.ResourceQuantity.FormatCpu(Math.Max(0, best.Capacity.CpuMillis - best.UsedCpuMillis))}, memory {MetaNode.VPods.ResourceQuantity.FormatMemory(Math.Max(0, best.Capacity.MemoryBytes - best.UsedMemoryBytes))}";
    }

    private static double Load(SiloUsage u) =>
        Ratio(u.UsedCpuMillis, u.Capacity.CpuMillis) + Ratio(u.UsedMemoryBytes, u.Capacity.MemoryBytes);

    private static double Ratio(long used, long capacity) => capacity <= 0 ? 1 : (double)used / capacity;
}
