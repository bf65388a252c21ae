using MetaNode.Clusters;
using MetaNode.Grains.Hosting;

namespace MetaNode.Grains.Clusters;

[GenerateSerializer, Alias("MetaNode.Clusters.VPodClusterRegistryState")]
public sealed class VPodClusterRegistryState
{
    [Id(0)] public Dictionary<string, ClusterSummary> Clusters { get; set; } = [];
}

/// <summary>
/// The persisted list of clusters, each listed as the cluster last reported itself (its phase follows its members). Reports
/// are kept in memory: a cluster without one (after a restart) is asked once, the next time the list is read.
/// </summary>
[GrainType("vpod-cluster-registry")]
public sealed class VPodClusterRegistryGrain(
    [PersistentState("clusters", MetaNodeNames.VPodStorage)] IPersistentState<VPodClusterRegistryState> state)
    : RegistryGrain<VPodClusterRegistryState, ClusterSummary>(state), IVPodClusterRegistryGrain
{
    /// <summary>Name → the cluster's last report; null when the cluster said it does not exist.</summary>
    private readonly Dictionary<string, ClusterSummary?> _reported = new(StringComparer.Ordinal);

    protected override Dictionary<string, ClusterSummary> EntriesOf(VPodClusterRegistryState registry) => registry.Clusters;

    protected override string KeyOf(ClusterSummary entry) => entry.Name;

    protected override DateTimeOffset CreatedAtOf(ClusterSummary entry) => entry.CreatedAt;

    protected override void OnUpserted(ClusterSummary? previous, ClusterSummary entry)
    {
        if (_reported.TryGetValue(entry.Name, out var reported) && reported is null)
        {
            // Deployed again since it said it did not exist.
            _reported.Remove(entry.Name);
        }
    }

    protected override bool OnRemoved(string key, ClusterSummary? entry)
    {
        _reported.Remove(key);
        return false;
    }

    public Task ReportAsync(ClusterSummary summary, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(summary);
        _reported[summary.Name] = summary;
        return Task.CompletedTask;
    }

    public override async Task<IReadOnlyList<ClusterSummary>> ListAsync(CancellationToken cancellationToken = default)
    {
        var unreported = State.Clusters.Keys.Where(name => !_reported.ContainsKey(name)).ToList();
        if (unreported.Count > 0)
        {
            foreach (var (name, summary) in await Task.WhenAll(unreported.Select(name => AskAsync(name, cancellationToken))))
            {
                // A report that arrived meanwhile is newer than the answer.
                _reported.TryAdd(name, summary);
            }
        }

        var rows = State.Clusters.Values
            .Select(known => _reported.TryGetValue(known.Name, out var reported) ? reported : known)
            .OfType<ClusterSummary>();
        return Ordered(rows).ToArray();
    }

    private async Task<(string Name, ClusterSummary? Summary)> AskAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return (name, await GrainFactory.GetGrain<IVPodClusterGrain>(name).GetSummaryAsync(cancellationToken));
        }
        catch (ClusterNotFoundException)
        {
            // Deleted since it was recorded.
            return (name, null);
        }
    }
}
