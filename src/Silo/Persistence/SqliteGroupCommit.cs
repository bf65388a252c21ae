using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace MetaNode.Silo.Persistence;

/// <summary>
/// Runs the writes to one database file in shared transactions (group commit). SQLite takes one writer at a time: writes
/// that arrive while a transaction runs wait in a queue, off the callers' threads, and the next transaction carries all of
/// them, so many concurrent writers cost one commit (one sync of the log) instead of one commit each and no busy waits.
/// </summary>
/// <remarks>
/// A caller's task completes only after the transaction holding its write has committed: nothing is reported written that
/// a crash could lose. When any write of a shared transaction throws, the transaction is rolled back and each of its writes
/// is run again alone, so one bad write fails only its own caller.
/// </remarks>
internal sealed class SqliteGroupCommit
{
    /// <summary>The most writes one transaction carries.</summary>
    internal const int MaxBatch = 64;

    private readonly SqliteDatabase _database;
    private readonly string _owner;
    private readonly ConcurrentQueue<PendingWrite> _queue = new();
    private int _draining;
    private volatile bool _closed;

    /// <param name="database">The file written to.</param>
    /// <param name="owner">What writes through this (named in the error a write after <see cref="Close"/> gets).</param>
    public SqliteGroupCommit(SqliteDatabase database, string owner)
    {
        _database = database;
        _owner = owner;
    }

    /// <summary>
    /// Takes no more writes: each later one fails at once, naming the store and its file. Writes already queued still commit
    /// and answer their callers.
    /// </summary>
    public void Close() => _closed = true;

    /// <summary>Runs <paramref name="work"/> inside a transaction on this file and returns its result once that transaction committed.</summary>
    public Task<T> RunAsync<T>(Func<SqliteConnection, SqliteTransaction, T> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        cancellationToken.ThrowIfCancellationRequested();
        if (_closed)
        {
            return Task.FromException<T>(new ObjectDisposedException($"{_owner} is closed (the silo is stopping): the write to '{_database.FullPath}' was not made.", (Exception?)null));
        }

        var pending = new PendingWrite<T>(work);
        _queue.Enqueue(pending);
        if (Interlocked.CompareExchange(ref _draining, 1, 0) == 0)
        {
            _ = Task.Run(DrainAsync, CancellationToken.None);
        }

        return pending.Task;
    }

    private async Task DrainAsync()
    {
        while (true)
        {
            var batch = new List<PendingWrite>(MaxBatch);
            while (batch.Count < MaxBatch && _queue.TryDequeue(out var next))
            {
                batch.Add(next);
            }

            if (batch.Count > 0)
            {
                await CommitAsync(batch).ConfigureAwait(false);
                continue;
            }

            // Nothing queued: stop draining, unless a write arrived after the queue was seen empty and found the flag still set.
            Volatile.Write(ref _draining, 0);
            if (_queue.IsEmpty || Interlocked.CompareExchange(ref _draining, 1, 0) != 0)
            {
                return;
            }
        }
    }

    private async Task CommitAsync(List<PendingWrite> batch)
    {
        var failure = await TryCommitAsync(batch).ConfigureAwait(false);
        if (failure is null)
        {
            foreach (var write in batch)
            {
                write.Complete();
            }

            return;
        }

        if (batch.Count == 1)
        {
            batch[0].Fail(failure);
            return;
        }

        // Which write failed is not known for sure (a failed statement may roll the whole transaction back): each alone.
        foreach (var write in batch)
        {
            var alone = await TryCommitAsync([write]).ConfigureAwait(false);
            if (alone is null)
            {
                write.Complete();
            }
            else
            {
                write.Fail(alone);
            }
        }
    }

    /// <summary>Runs the writes in one transaction; null once it committed, else what failed (and it was rolled back).</summary>
    private async Task<Exception?> TryCommitAsync(IReadOnlyList<PendingWrite> writes)
    {
        try
        {
            await using var connection = await _database.OpenAsync(CancellationToken.None).ConfigureAwait(false);
            await using var transaction = connection.BeginTransaction(deferred: false);
            foreach (var write in writes)
            {
                write.Run(connection, transaction);
            }

            transaction.Commit();
            return null;
        }
        catch (Exception exception)
        {
            return exception;
        }
    }

    private abstract class PendingWrite
    {
        public abstract void Run(SqliteConnection connection, SqliteTransaction transaction);

        public abstract void Complete();

        public abstract void Fail(Exception exception);
    }

    private sealed class PendingWrite<T>(Func<SqliteConnection, SqliteTransaction, T> work) : PendingWrite
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;

        public Task<T> Task => _completion.Task;

        public override void Run(SqliteConnection connection, SqliteTransaction transaction) => _result = work(connection, transaction);

        public override void Complete() => _completion.TrySetResult(_result);

        public override void Fail(Exception exception) => _completion.TrySetException(exception);
    }
}
