using MetaNode.Grains.Hosting;
using MetaNode.VPods;

namespace MetaNode.Grains.VPods;

/// <summary>Persisted list of vPods and their unique names.</summary>
[GenerateSerializer, Alias("MetaNode.VPods.VPodRegistryState")]
public sealed class VPodRegistryState
{
    [Id(0)] public Dictionary<string, VPodSummary> Entries { get; set; } = [];

    /// <summary>Name → vPod id.</summary>
    [Id(1)] public Dictionary<string, string> Names { get; set; } = [];
}

[GrainType("vpod-registry")]
public sealed class VPodRegistryGrain(
    [PersistentState("registry", MetaNodeNames.VPodStorage)] IPersistentState<VPodRegistryState> state) : Grain, IVPodRegistryGrain
{
    public async Task UpsertAsync(VPodSummary summary, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(summary);
        if (state.State.Entries.TryGetValue(summary.Id, out var existing) && existing == summary)
        {
            return;
        }

        state.State.Entries[summary.Id] = summary;
        state.State.Names[summary.Name] = summary.Id;
        await state.WriteStateAsync(cancellationToken);
    }

    public async Task RemoveAsync(string vpodId, CancellationToken cancellationToken = default)
    {
        var removed = state.State.Entries.Remove(vpodId, out var entry);
        foreach (var name in state.State.Names.Where(n => n.Value == vpodId).Select(n => n.Key).ToList())
        {
            state.State.Names.Remove(name);
            removed = true;
        }

        if (removed || entry is not null)
        {
            await state.WriteStateAsync(cancellationToken);
        }
    }

    public Task<IReadOnlyList<VPodSummary>> ListAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<VPodSummary>>(state.State.Entries.Values.OrderBy(e => e.CreatedAt).ThenBy(e => e.Id, StringComparer.Ordinal).ToArray());

    public async Task<string?> ReserveNameAsync(string name, string vpodId, CancellationToken cancellationToken = default)
    {
        if (state.State.Names.TryGetValue(name, out var holder) && holder != vpodId)
        {
            return holder;
        }

        if (holder is null)
        {
            state.State.Names[name] = vpodId;
            await state.WriteStateAsync(cancellationToken);
        }

        return null;
    }
}
