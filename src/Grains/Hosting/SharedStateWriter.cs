using Orleans.Core;

namespace MetaNode.Grains.Hosting;

/// <summary>
/// Writes a grain's persisted state with every change made so far, one write at a time. While a write runs, the changes
/// that follow share the next one, so a reentrant grain's concurrent callers cost one write, not one each. A caller returns
/// only once a write that began after its change has succeeded; a failed write fails every caller that waited on it, and
/// the next write carries their changes again. Used from the grain's own scheduler only (it holds no lock).
/// </summary>
public sealed class SharedStateWriter<TState>(IStorage<TState> state)
{
    // The write under way, and the one that will follow it with the changes made meanwhile.
    private Task? _writing;
    private Task? _nextWrite;

    public Task WriteAsync(CancellationToken cancellationToken)
    {
        if (_nextWrite is { } next)
        {
            return next;
        }

        if (_writing is null || _writing.IsCompleted)
        {
            return _writing = state.WriteStateAsync(cancellationToken);
        }

        return _nextWrite = WriteAfterAsync(_writing);
    }

    private async Task WriteAfterAsync(Task previous)
    {
        try
        {
            await previous;
        }
        catch (Exception)
        {
            // Its own callers were told; this write carries their changes again with the ones made since.
        }

        _nextWrite = null;

        // Shared by several callers: none of their tokens may cancel it for the others.
        _writing = state.WriteStateAsync(CancellationToken.None);
        await _writing;
    }
}
