using Orleans.Core;

namespace MetaNode.Grains.Hosting;

/// <summary>
/// The shape every registry grain shares: a persisted dictionary of entries by key, kept by upsert and remove and listed
/// oldest first. A derived registry names where its entries live in its state and how an entry is keyed and dated.
/// </summary>
/// <typeparam name="TState">The registry's persisted state; it keeps its own class and field ids.</typeparam>
/// <typeparam name="TEntry">One entry (a summary record with value equality).</typeparam>
/// <param name="state">The derived grain's <c>[PersistentState]</c>, which names the storage and so where the state is found.</param>
public abstract class RegistryGrain<TState, TEntry>(IStorage<TState> state) : Grain
    where TState : class, new()
    where TEntry : class
{
    private readonly SharedStateWriter<TState> _writer = new(state);

    protected TState State => state.State;

    /// <summary>The entries inside <paramref name="registry"/>, by key.</summary>
    protected abstract Dictionary<string, TEntry> EntriesOf(TState registry);

    protected abstract string KeyOf(TEntry entry);

    protected abstract DateTimeOffset CreatedAtOf(TEntry entry);

    /// <summary>True when <paramref name="incoming"/> brings nothing <paramref name="known"/> does not: it is not written.</summary>
    protected virtual bool IsCurrent(TEntry known, TEntry incoming) => EqualityComparer<TEntry>.Default.Equals(known, incoming);

    /// <summary>Runs once an entry was stored in place of <paramref name="previous"/>, before the state is written.</summary>
    protected virtual void OnUpserted(TEntry? previous, TEntry entry)
    {
    }

    /// <summary>Runs once an upsert that changed the entry was written.</summary>
    protected virtual Task OnUpsertWrittenAsync(TEntry? previous, TEntry entry, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Runs once <paramref name="key"/> was removed (<paramref name="entry"/> null when it was not known); true when more state changed.</summary>
    protected virtual bool OnRemoved(string key, TEntry? entry) => false;

    public async Task UpsertAsync(TEntry summary, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(summary);
        var entries = EntriesOf(State);
        var key = KeyOf(summary);
        entries.TryGetValue(key, out var previous);
        if (previous is not null && IsCurrent(previous, summary))
        {
            return;
        }

        entries[key] = summary;
        OnUpserted(previous, summary);
        await WriteAsync(cancellationToken);
        await OnUpsertWrittenAsync(previous, summary, cancellationToken);
    }

    public async Task RemoveAsync(string key, CancellationToken cancellationToken = default)
    {
        var removed = EntriesOf(State).Remove(key, out var entry);
        if (OnRemoved(key, entry) || removed)
        {
            await WriteAsync(cancellationToken);
        }
    }

    public virtual Task<IReadOnlyList<TEntry>> ListAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<TEntry>>(Ordered(EntriesOf(State).Values).ToArray());

    /// <summary>Oldest first, then by key (ordinal).</summary>
    protected IEnumerable<TEntry> Ordered(IEnumerable<TEntry> entries) =>
        entries.OrderBy(CreatedAtOf).ThenBy(KeyOf, StringComparer.Ordinal);

    /// <summary>Writes the state with every change made so far; concurrent changes share writes (<see cref="SharedStateWriter{TState}"/>).</summary>
    protected Task WriteAsync(CancellationToken cancellationToken) => _writer.WriteAsync(cancellationToken);
}
