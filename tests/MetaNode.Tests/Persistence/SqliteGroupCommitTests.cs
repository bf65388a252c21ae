using MetaNode.Silo.Persistence;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Storage;

namespace MetaNode.Tests.Persistence;

/// <summary>
/// Grain-state writes to one SQLite file share transactions (group commit): each caller is answered once its transaction
/// committed, a write that fails inside a shared transaction fails only its own caller, and a closed store refuses writes.
/// </summary>
public sealed class SqliteGroupCommitTests : IDisposable
{
    private const string StateName = "probe";
    private readonly SqliteTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static GrainId NewGrainId(string prefix = "g") => GrainId.Create("probe", prefix + Guid.NewGuid().ToString("N"));

    private static byte[] Bytes(ProbeState state) => SqliteTestFiles.StateSerializer.Serialize(state).ToArray();

    /// <summary>The stored payload and version of one grain, read on a connection of its own (not the store's pool).</summary>
    private (byte[]? Payload, long? Version) ReadRaw(GrainId grainId, string serviceId = "service-a")
    {
        using var connection = OpenReader();
        return ReadRaw(connection, grainId, serviceId);
    }

    private SqliteConnection OpenReader()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = _files.PathOf("state.db"), Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    private static (byte[]? Payload, long? Version) ReadRaw(SqliteConnection connection, GrainId grainId, string serviceId = "service-a")
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT payload, version FROM grain_state WHERE service_id = $s AND state_name = $n AND grain_id = $g;";
        command.Parameters.AddWithValue("$s", serviceId);
        command.Parameters.AddWithValue("$n", StateName);
        command.Parameters.AddWithValue("$g", grainId.ToString());
        using var reader = command.ExecuteReader();
        return reader.Read() ? ((byte[])reader.GetValue(0), reader.GetInt64(1)) : (null, null);
    }

    private void AssertStored(GrainId grainId, ProbeState expected, long version)
    {
        var (payload, stored) = ReadRaw(grainId);
        Assert.Equal(version, stored);
        Assert.Equal(Bytes(expected), payload);
    }

    /// <summary>Takes the file's write lock on a connection of its own until the returned transaction ends, so the store's writes queue up.</summary>
    private (SqliteConnection Connection, SqliteTransaction Lock) HoldWriteLock()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = _files.PathOf("state.db"), Pooling = false }.ToString());
        connection.Open();
        return (connection, connection.BeginTransaction(deferred: false));
    }

    [Fact]
    public async Task ConcurrentWrites_FromManyGrains_AllCommit_AndReadBackByteIdentical()
    {
        using var storage = _files.CreateStorage();
        await storage.InitializeAsync(CancellationToken.None);
        var grains = Enumerable.Range(0, 48).Select(_ => NewGrainId()).ToArray();

        var writers = grains.Select((grainId, g) => Task.Run(async () =>
        {
            var state = new GrainState<ProbeState>(new ProbeState());
            for (var round = 1; round <= 3; round++)
            {
                state.State = new ProbeState { Value = $"grain {g} round {round} " + new string((char)('a' + g % 26), g * 7), Writes = round, ReminderTicks = g };
                await storage.WriteStateAsync(StateName, grainId, state);
                Assert.Equal(round.ToString(System.Globalization.CultureInfo.InvariantCulture), state.ETag);
            }

            return state.State!;
        })).ToArray();
        var last = await Task.WhenAll(writers);

        for (var g = 0; g < grains.Length; g++)
        {
            var (payload, version) = ReadRaw(grains[g]);
            Assert.Equal(3, version);
            Assert.Equal(Bytes(last[g]), payload);
        }
    }

    [Fact]
    public async Task EachCaller_IsAnsweredOnlyOnceItsWriteIsDurable()
    {
        using var storage = _files.CreateStorage();
        await storage.InitializeAsync(CancellationToken.None);
        var grains = Enumerable.Range(0, 60).Select(_ => NewGrainId()).ToArray();

        // A reader of its own per write, open beforehand: it reads the moment the caller's task completes, on that thread.
        var readers = grains.Select(_ => OpenReader()).ToArray();
        var (connection, writeLock) = HoldWriteLock();
        var seen = grains.Select((grainId, g) => storage
            .WriteStateAsync(StateName, grainId, new GrainState<ProbeState>(new ProbeState { Value = $"v{g}" }))
            .ContinueWith(t => { t.GetAwaiter().GetResult(); return ReadRaw(readers[g], grainId); }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default))
            .ToArray();

        Assert.All(seen, s => Assert.False(s.IsCompleted, "a write was answered while the file's write lock was held by another connection"));
        writeLock.Commit();
        writeLock.Dispose();
        connection.Dispose();

        var results = await Task.WhenAll(seen);
        Array.ForEach(readers, r => r.Dispose());
        for (var g = 0; g < grains.Length; g++)
        {
            Assert.Equal(1, results[g].Version);
            Assert.Equal(Bytes(new ProbeState { Value = $"v{g}" }), results[g].Payload);
        }
    }

    [Fact]
    public async Task AStaleETag_InASharedTransaction_FailsOnlyItsCaller_AndTheOthersCommit()
    {
        using var storage = _files.CreateStorage();
        await storage.InitializeAsync(CancellationToken.None);
        var contested = NewGrainId();
        var current = new GrainState<ProbeState>(new ProbeState { Value = "v1" });
        await storage.WriteStateAsync(StateName, contested, current);
        current.State!.Value = "v2";
        await storage.WriteStateAsync(StateName, contested, current);

        var (connection, writeLock) = HoldWriteLock();
        var others = Enumerable.Range(0, 30).Select(_ => NewGrainId()).ToArray();
        var before = others[..15].Select(g => storage.WriteStateAsync(StateName, g, new GrainState<ProbeState>(new ProbeState { Value = "other" }))).ToList();
        var stale = storage.WriteStateAsync(StateName, contested, new GrainState<ProbeState>(new ProbeState { Value = "lost update" }) { ETag = "1" });
        var after = others[15..].Select(g => storage.WriteStateAsync(StateName, g, new GrainState<ProbeState>(new ProbeState { Value = "other" }))).ToList();
        writeLock.Commit();
        writeLock.Dispose();
        connection.Dispose();

        var conflict = await Assert.ThrowsAsync<InconsistentStateException>(() => stale);
        Assert.Equal("2", conflict.StoredEtag);
        Assert.Equal("1", conflict.CurrentEtag);
        await Task.WhenAll(before.Concat(after));
        Assert.All(others, g => Assert.Equal(1, ReadRaw(g).Version));
        AssertStored(contested, new ProbeState { Value = "v2" }, 2);
    }

    [Fact]
    public async Task AWriteThatThrows_InASharedTransaction_FailsOnlyItsCaller_AndTheOthersCommitOnce()
    {
        using var storage = _files.CreateStorage();
        await storage.InitializeAsync(CancellationToken.None);
        using (var setup = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = _files.PathOf("state.db"), Pooling = false }.ToString()))
        {
            setup.Open();
            using var trigger = setup.CreateCommand();
            trigger.CommandText = "CREATE TRIGGER refuse BEFORE INSERT ON grain_state WHEN NEW.grain_id LIKE '%refused%' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;";
            trigger.ExecuteNonQuery();
        }

        var (connection, writeLock) = HoldWriteLock();
        var others = Enumerable.Range(0, 20).Select(_ => NewGrainId()).ToArray();
        var refusedId = NewGrainId("refused");
        var writes = others.Select(g => storage.WriteStateAsync(StateName, g, new GrainState<ProbeState>(new ProbeState { Value = "kept" }))).ToList();
        var refused = storage.WriteStateAsync(StateName, refusedId, new GrainState<ProbeState>(new ProbeState { Value = "refused" }));
        var later = Enumerable.Range(0, 20).Select(_ => NewGrainId()).ToArray();
        writes.AddRange(later.Select(g => storage.WriteStateAsync(StateName, g, new GrainState<ProbeState>(new ProbeState { Value = "kept" }))));
        writeLock.Commit();
        writeLock.Dispose();
        connection.Dispose();

        var error = await Assert.ThrowsAsync<SqliteException>(() => refused);
        Assert.Contains("refused by the test", error.Message, StringComparison.Ordinal);
        await Task.WhenAll(writes);
        Assert.All(others.Concat(later), g => AssertStored(g, new ProbeState { Value = "kept" }, 1));
        Assert.Equal((null, null), ReadRaw(refusedId));
    }

    [Fact]
    public async Task GroupCommit_CompletesACallersTask_OnlyOnceItsTransactionCommitted()
    {
        var database = new SqliteDatabase(_files.PathOf("state.db"), TimeSpan.FromSeconds(10), NullLogger.Instance);
        var commit = new SqliteGroupCommit(database, "the test store");
        using var assigned = new ManualResetEventSlim();
        Task<int>? caller = null;
        bool? completedWhenCommitting = null;

        // SQLite calls the commit hook while the transaction commits, on the thread committing it: the caller's task must not
        // have completed by then.
        caller = commit.RunAsync(
            (connection, transaction) =>
            {
                assigned.Wait(TimeSpan.FromSeconds(30));
                SQLitePCL.raw.sqlite3_commit_hook(connection.Handle, _ => { completedWhenCommitting ??= caller!.IsCompleted; return 0; }, null);
                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = "INSERT INTO grain_state (service_id, state_name, grain_id, payload, version, modified_utc) VALUES ('s', 'n', 'g', NULL, 1, 'now');";
                return command.ExecuteNonQuery();
            },
            CancellationToken.None);
        assigned.Set();

        Assert.Equal(1, await caller);
        Assert.False(completedWhenCommitting, "the caller was answered before its transaction committed");
        await commit.RunAsync((connection, _) => { SQLitePCL.raw.sqlite3_commit_hook(connection.Handle, null, null); return 0; }, CancellationToken.None);
        database.Dispose();
    }

    [Fact]
    public async Task GroupCommit_RollsASharedTransactionBack_AndRetriesEachWriteAlone_WhenOneThrows()
    {
        var database = new SqliteDatabase(_files.PathOf("state.db"), TimeSpan.FromSeconds(10), NullLogger.Instance);
        var commit = new SqliteGroupCommit(database, "the test store");
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var transactions = new System.Collections.Concurrent.ConcurrentDictionary<int, List<SqliteTransaction>>();

        Func<SqliteConnection, SqliteTransaction, int> Insert(int n, bool fail = false) => (connection, transaction) =>
        {
            transactions.AddOrUpdate(n, _ => [transaction], (_, list) => { lock (list) { list.Add(transaction); } return list; });
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "INSERT INTO grain_state (service_id, state_name, grain_id, payload, version, modified_utc) VALUES ('s', 'n', $g, NULL, 1, 'now');";
            command.Parameters.AddWithValue("$g", $"g{n}");
            command.ExecuteNonQuery();
            return fail ? throw new InvalidOperationException($"write {n} fails") : n;
        };

        // The first write holds the drain (it runs on the drain, not the caller) until every other write is queued behind it.
        var blocker = commit.RunAsync((c, t) => { entered.Set(); release.Wait(TimeSpan.FromSeconds(30)); return Insert(0)(c, t); }, CancellationToken.None);
        Assert.True(entered.Wait(TimeSpan.FromSeconds(30)), "the first write did not start");
        var queued = Enumerable.Range(1, 20).Select(n => commit.RunAsync(Insert(n, fail: n == 7), CancellationToken.None)).ToArray();
        release.Set();

        Assert.Equal(0, await blocker);
        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => queued[6]);
        Assert.Equal("write 7 fails", failed.Message);
        Assert.Equal(Enumerable.Range(1, 20).Where(n => n != 7), await Task.WhenAll(queued.Where((_, i) => i != 6)));

        // The queued writes up to the one that threw ran in one transaction; then each ran alone, in a transaction of its own,
        // and each one that succeeded is stored exactly once.
        var shared = transactions[1][0];
        Assert.All(Enumerable.Range(1, 7), n => Assert.Same(shared, transactions[n][0]));
        var alone = Enumerable.Range(1, 20).Select(n => transactions[n][^1]).ToList();
        Assert.Equal(20, alone.Distinct().Count());
        Assert.DoesNotContain(shared, alone);
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = _files.PathOf("state.db"), Pooling = false }.ToString());
        connection.Open();
        using var count = connection.CreateCommand();
        count.CommandText = "SELECT group_concat(grain_id, ',') FROM (SELECT grain_id FROM grain_state WHERE service_id = 's' ORDER BY CAST(substr(grain_id, 2) AS INTEGER));";
        Assert.Equal(string.Join(',', Enumerable.Range(0, 21).Where(n => n != 7).Select(n => $"g{n}")), count.ExecuteScalar());
        database.Dispose();
    }

    [Fact]
    public async Task AWrite_AfterTheStoreIsClosed_FailsAtOnceNamingIt_WhileOneQueuedBeforeStillCommits()
    {
        var storage = _files.CreateStorage();
        await storage.InitializeAsync(CancellationToken.None);
        var queuedId = NewGrainId();
        var (connection, writeLock) = HoldWriteLock();
        var queued = storage.WriteStateAsync(StateName, queuedId, new GrainState<ProbeState>(new ProbeState { Value = "queued" }));

        storage.Dispose();
        var late = storage.WriteStateAsync(StateName, NewGrainId(), new GrainState<ProbeState>(new ProbeState { Value = "late" }));
        var closed = await Assert.ThrowsAsync<ObjectDisposedException>(() => late.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("'test-store' is closed", closed.Message, StringComparison.Ordinal);
        Assert.Contains(_files.PathOf("state.db"), closed.Message, StringComparison.Ordinal);

        writeLock.Commit();
        writeLock.Dispose();
        connection.Dispose();
        await queued.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, ReadRaw(queuedId).Version);
    }
}
