using MetaNode.Clusters;
using MetaNode.Grains.Hosting;

namespace MetaNode.Grains.Clusters;

[GenerateSerializer, Alias("MetaNode.Clusters.VPodClusterRegistryState")]
public sealed class VPodClusterRegistryState
{
    [Id(0)] public Dictionary<string, ClusterSummary> Clusters { get; set; } = [];
}

/// <summary>The persisted list of clusters.</summary>
[GrainType("vpod-cluster-registry")]
public sealed class VPodClusterRegistryGrain(
    [PersistentState("clusters", MetaNodeNames.VPodStorage)] IPersistentState<VPodClusterRegistryState> state) : Grain, IVPodClusterRegistryGrain
{
    public async Task UpsertAsync(ClusterSummary summary, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(summary);
        if (state.State.Clusters.TryGetValue(summary.Name, out var existing) && existing == summary)
        {
            return;
        }

        state.State.Clusters[summary.Name] = summary;
        await state.WriteStateAsync(cancellationToken);
    }

    public async Task RemoveAsync(string name, CancellationToken cancellationToken = default)
    {
        if (state.State.Clusters.Remove(name))
        {
            await state.WriteStateAsync(cancellationToken);
        }
    }

    public Task<IReadOnlyList<ClusterSummary>> ListAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<ClusterSummary>>(state.State.Clusters.Values.OrderBy(c => c.CreatedAt).ThenBy(c => c.Name, StringComparer.Ordinal).ToArray());
}
