using MetaNode.Clusters;
using MetaNode.Grains.Clusters;
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

/// <summary>
/// Every vPod and its unique name. A cluster member's change of phase is passed on to its cluster, which keeps the summary
/// <c>cluster list</c> shows current without asking every member.
/// </summary>
/// <remarks>
/// Reentrant: every call changes the dictionaries before its first await (a name is checked and reserved in one step), so
/// concurrent creates interleave here and share the registry's writes instead of queueing one write each.
/// </remarks>
[GrainType("vpod-registry"), Orleans.Concurrency.Reentrant]
public sealed class VPodRegistryGrain(
    [PersistentState("registry", MetaNodeNames.VPodStorage)] IPersistentState<VPodRegistryState> state)
    : RegistryGrain<VPodRegistryState, VPodSummary>(state), IVPodRegistryGrain
{
    protected override Dictionary<string, VPodSummary> EntriesOf(VPodRegistryState registry) => registry.Entries;

    protected override string KeyOf(VPodSummary entry) => entry.Id;

    protected override DateTimeOffset CreatedAtOf(VPodSummary entry) => entry.CreatedAt;

    protected override void OnUpserted(VPodSummary? previous, VPodSummary entry) => State.Names[entry.Name] = entry.Id;

    protected override Task OnUpsertWrittenAsync(VPodSummary? previous, VPodSummary entry, CancellationToken cancellationToken) =>
        previous?.Phase == entry.Phase ? Task.CompletedTask : TellClusterAsync(entry, entry.Phase);

    protected override bool OnRemoved(string key, VPodSummary? entry)
    {
        var removed = false;
        foreach (var name in State.Names.Where(n => n.Value == key).Select(n => n.Key).ToList())
        {
            State.Names.Remove(name);
            removed = true;
        }

        if (entry is not null)
        {
            _ = TellClusterAsync(entry, VPodPhase.Deleted);
        }

        return removed;
    }

    public async Task<string?> ReserveNameAsync(string name, string vpodId, CancellationToken cancellationToken = default)
    {
        if (State.Names.TryGetValue(name, out var holder) && holder != vpodId)
        {
            return holder;
        }

        if (holder is null)
        {
            State.Names[name] = vpodId;
            await WriteAsync(cancellationToken);
        }

        return null;
    }

    /// <summary>Tells a cluster member's cluster (a one-way call) that the member's phase changed.</summary>
    private Task TellClusterAsync(VPodSummary member, VPodPhase phase) =>
        ClusterSummaries.ClusterOf(member.Id, member.Name) is { } cluster
            ? GrainFactory.GetGrain<IVPodClusterGrain>(cluster).MemberChangedAsync(member.Id, phase, member.UpdatedAt)
            : Task.CompletedTask;
}
