using MetaNode.Federation;
using MetaNode.Grains.Hosting;

namespace MetaNode.Grains.Federation;

[GenerateSerializer, Alias("MetaNode.Federation.FederatedJobHistoryState")]
public sealed class FederatedJobHistoryState
{
    [Id(0)] public List<RoundResult> Results { get; set; } = [];
    [Id(1)] public List<RoundTimings> Timings { get; set; } = [];
}

/// <summary>A page of a job's finalized rounds, written by the job before it drops them from its own state.</summary>
[GrainType("federated-job-history")]
public sealed class FederatedJobHistoryGrain(
    [PersistentState("history", MetaNodeNames.ChainStorage)] IPersistentState<FederatedJobHistoryState> state) : Grain, IFederatedJobHistoryGrain
{
    public async Task PutAsync(FederatedJobHistoryPage page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(page);
        if (page.Problem() is { } problem)
        {
            throw new InvalidJobOperationException($"job history page {this.GetPrimaryKeyString()}: {problem}; nothing was stored.");
        }

        var (results, timings) = (state.State.Results, state.State.Timings);
        state.State.Results = [.. page.Results];
        state.State.Timings = [.. page.Timings];
        try
        {
            await state.WriteStateAsync(cancellationToken);
        }
        catch
        {
            // Not stored: the page reads as it was, and the job keeps the rounds in its own state until a write succeeds.
            (state.State.Results, state.State.Timings) = (results, timings);
            throw;
        }
    }

    public Task<FederatedJobHistoryPage?> GetAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(state.State.Results.Count == 0 ? null : new FederatedJobHistoryPage([.. state.State.Results], [.. state.State.Timings]));
}
