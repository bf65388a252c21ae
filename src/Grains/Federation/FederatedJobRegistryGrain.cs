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
    [PersistentState("jobs", MetaNodeNames.ChainStorage)] IPersistentState<FederatedJobRegistryState> state)
    : RegistryGrain<FederatedJobRegistryState, FederatedJobSummary>(state), IFederatedJobRegistryGrain
{
    protected override Dictionary<string, FederatedJobSummary> EntriesOf(FederatedJobRegistryState registry) => registry.Jobs;

    protected override string KeyOf(FederatedJobSummary entry) => entry.JobId;

    protected override DateTimeOffset CreatedAtOf(FederatedJobSummary entry) => entry.CreatedAt;

    // One-way calls may arrive out of order: an older summary never replaces a newer one.
    protected override bool IsCurrent(FederatedJobSummary known, FederatedJobSummary incoming) =>
        known.UpdatedAt > incoming.UpdatedAt || known == incoming;

    public override Task<IReadOnlyList<FederatedJobSummary>> ListAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<FederatedJobSummary>>(Ordered(State.Jobs.Values).ToList());
}
