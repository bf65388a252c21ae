using MetaNode.Federation;

namespace MetaNode.Grains.Federation;

/// <summary>
/// The job's finalized rounds beyond its own state: once more than <see cref="FederatedJobOptions.HistoryPageRounds"/> rounds are
/// finalized, all but the last move as one page to the job's history, written before the job's state drops them. The job's state,
/// written at every step of every round, so stays bounded; its status still lists every round, pages first.
/// </summary>
public sealed partial class FederatedJobGrain
{
    // The pages read so far (pages never change once the job has moved on from them), in page order.
    private readonly List<FederatedJobHistoryPage> _history = [];

    /// <summary>
    /// Moves the finalized rounds but the last to a history page when there are more than a page's worth. The page is stored first;
    /// a job that dies before its next write finalizes the round again and stores the same page again. A page that cannot be
    /// stored leaves the rounds in the job's state (logged): they move with the next round's.
    /// </summary>
    private async Task MoveFullPageToHistoryAsync(CancellationToken cancellationToken)
    {
        var count = State.Results.Count - 1;
        if (count < _options.HistoryPageRounds)
        {
            return;
        }

        var page = new FederatedJobHistoryPage([.. State.Results.Take(count)], [.. State.Timings.Take(count)]);
        try
        {
            await GrainFactory.GetGrain<IFederatedJobHistoryGrain>(FederatedJobHistoryKeys.Page(JobId, State.HistoryPages)).PutAsync(page, cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogHistoryNotStored(logger, exception, JobId, State.HistoryPages, count);
            return;
        }

        State.Results.RemoveRange(0, count);
        State.Timings.RemoveRange(0, count);
        if (_history.Count == State.HistoryPages)
        {
            _history.Add(page);
        }

        State.HistoryPages++;
    }

    /// <summary>Every history page, read once and kept.</summary>
    private async Task<IReadOnlyList<FederatedJobHistoryPage>> HistoryAsync(CancellationToken cancellationToken)
    {
        if (_history.Count < State.HistoryPages)
        {
            var missing = Enumerable.Range(_history.Count, State.HistoryPages - _history.Count).ToList();
            var pages = await Task.WhenAll(missing.Select(index =>
                GrainFactory.GetGrain<IFederatedJobHistoryGrain>(FederatedJobHistoryKeys.Page(JobId, index)).GetAsync(cancellationToken)));
            for (var i = 0; i < pages.Length; i++)
            {
                // A page is written before the job's state counts it, so a missing one means the storage lost it.
                _history.Add(pages[i] ?? throw new InvalidOperationException($"job '{JobId}': history page {missing[i]} is missing from storage."));
            }
        }

        return _history;
    }

    /// <summary>A finalized round's result, from the job's state or its history; null when the round is not finalized.</summary>
    private async Task<RoundResult?> ResultAsync(int round, CancellationToken cancellationToken)
    {
        if (State.Results.FirstOrDefault(r => r.Round == round) is { } result)
        {
            return result;
        }

        if (State.HistoryPages == 0 || (State.Results.Count > 0 && round > State.Results[^1].Round))
        {
            return null;
        }

        return (await HistoryAsync(cancellationToken)).SelectMany(p => p.Results).FirstOrDefault(r => r.Round == round);
    }

    private async Task<FederatedJobStatus> StatusAsync(CancellationToken cancellationToken) =>
        Status(State.HistoryPages == 0 ? [] : await HistoryAsync(cancellationToken));
}
