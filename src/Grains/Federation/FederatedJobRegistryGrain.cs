using MetaNode.Federation;
using MetaNode.Grains.Hosting;

namespace MetaNode.Grains.Federation;

[GenerateSerializer, Alias("MetaNode.Federation.FederatedJobRegistryState")]
public sealed class FederatedJobRegistryState
{
    [Id(0)] public Dictionary<string, FederatedJobSummary> Jobs { get; set; } = [];
}

/// <summary>The persisted list of jobs that <c>job list</c> reads.</summary>
[GrainType("federated-job-registry")]
public sealed class FederatedJobRegistryGrain(
    [PersistentState("jobs", MetaNodeNames.ChainStorage)] IPersistentState<FederatedJobRegistryState> state) : Grain, IFederatedJobRegistryGrain
{
    public async Task UpsertAsync(FederatedJobSummary summary, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(summary);
        if (state.State.Jobs.TryGetValue(summary.JobId, out var known) && (known.UpdatedAt > summary.UpdatedAt || known == summary))
        {
            // One-way calls may arrive out of order: an older summary never replaces a newer one.
            return;
        }

        state.State.Jobs[summary.JobId] = summary;
        await state.WriteStateAsync(cancellationToken);
    }

    public Task<IReadOnlyList<FederatedJobSummary>> ListAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<FederatedJobSummary>>(state.State.Jobs.Values.OrderBy(j => j.CreatedAt).ThenBy(j => j.JobId, StringComparer.Ordinal).ToList());
}
