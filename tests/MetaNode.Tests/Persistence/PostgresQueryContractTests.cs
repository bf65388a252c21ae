using System.Data;
using MetaNode.Silo.Persistence;
using MetaNode.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace MetaNode.Tests.Persistence;

/// <summary>
/// Runs the stored queries exactly as the Orleans ADO.NET providers do: the text from OrleansQuery, the
/// parameter names and DbTypes the providers bind, the result columns they read.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresQueryContractTests(PostgresServer server)
{
    private const int Active = 3;
    private const int Dead = 6;

    [Fact]
    public async Task MembershipQueries_EnforceTableVersion_AndCleanUpOnlyDeadSilos()
    {
        await using var db = await OpenMigratedAsync(nameof(MembershipQueries_EnforceTableVersion_AndCleanUpOnlyDeadSilos));
        const string cluster = "contract-cluster";

        Assert.True(await db.ReadBoolAsync("InsertMembershipVersionKey", ("DeploymentId", cluster, DbType.String)));
        Assert.False(await db.ReadBoolAsync("InsertMembershipVersionKey", ("DeploymentId", cluster, DbType.String)));
        var empty = await db.ReadRowsAsync("MembershipReadAllKey", ("DeploymentId", cluster, DbType.String));
        Assert.Single(empty);
        Assert.Equal(DBNull.Value, empty[0]["StartTime"]);
        Assert.Equal(0, Convert.ToInt32(empty[0]["Version"]));

        var started = DateTime.UtcNow.AddMinutes(-10);
        Assert.True(await db.ReadBoolAsync("InsertMembershipKey", Member(cluster, 11111, Active, started, version: 0)));
        Assert.False(await db.ReadBoolAsync("InsertMembershipKey", Member(cluster, 22222, Active, started, version: 0)));
        Assert.True(await db.ReadBoolAsync("InsertMembershipKey", Member(cluster, 22222, Active, started, version: 1)));
        Assert.False(await db.ReadBoolAsync("InsertMembershipKey", Member(cluster, 22222, Active, started, version: 2)));

        await db.ExecuteAsync("UpdateIAmAlivetimeKey",
            ("DeploymentId", cluster, DbType.String), ("Address", "127.0.0.1", DbType.AnsiString), ("Port", 22222, DbType.Int32),
            ("Generation", 7, DbType.Int32), ("IAmAliveTime", DateTime.UtcNow, DbType.DateTime));
        var row = await db.ReadRowsAsync("MembershipReadRowKey",
            ("DeploymentId", cluster, DbType.String), ("Address", "127.0.0.1", DbType.AnsiString), ("Port", 22222, DbType.Int32), ("Generation", 7, DbType.Int32));
        Assert.Single(row);
        Assert.Equal(2, Convert.ToInt32(row[0]["Version"]));
        Assert.Equal("silo-22222", row[0]["SiloName"]);

        Assert.False(await db.ReadBoolAsync("UpdateMembershipKey", Update(cluster, 11111, Dead, version: 1)));
        Assert.True(await db.ReadBoolAsync("UpdateMembershipKey", Update(cluster, 11111, Dead, version: 2)));
        Assert.False(await db.ReadBoolAsync("UpdateMembershipKey", Update(cluster, 33333, Dead, version: 3)));

        var gateways = await db.ReadRowsAsync("GatewaysQueryKey", ("DeploymentId", cluster, DbType.String), ("Status", Active, DbType.Int32));
        Assert.Equal([22222 + 1], gateways.Select(g => Convert.ToInt32(g["ProxyPort"])));

        await db.ExecuteAsync("CleanupDefunctSiloEntriesKey",
            ("DeploymentId", cluster, DbType.String), ("IAmAliveTime", DateTime.UtcNow.AddMinutes(1), DbType.DateTime));
        var remaining = await db.ReadRowsAsync("MembershipReadAllKey", ("DeploymentId", cluster, DbType.String));
        Assert.Equal([22222], remaining.Select(r => Convert.ToInt32(r["Port"])));
        Assert.Equal(3, Convert.ToInt32(remaining[0]["Version"]));

        await db.ExecuteAsync("DeleteMembershipTableEntriesKey", ("DeploymentId", cluster, DbType.String));
        Assert.Empty(await db.ReadRowsAsync("MembershipReadAllKey", ("DeploymentId", cluster, DbType.String)));
    }

    [Fact]
    public async Task CleanupDefunctSiloEntryKey_RemovesADeadSilo_OnlyWhileItsRowIsUnchanged()
    {
        await using var db = await OpenMigratedAsync(nameof(CleanupDefunctSiloEntryKey_RemovesADeadSilo_OnlyWhileItsRowIsUnchanged));
        const string cluster = "cleanup-cluster";
        await db.ReadBoolAsync("InsertMembershipVersionKey", ("DeploymentId", cluster, DbType.String));
        var started = DateTime.UtcNow.AddMinutes(-10);
        Assert.True(await db.ReadBoolAsync("InsertMembershipKey", Member(cluster, 11111, Active, started, version: 0)));
        Assert.True(await db.ReadBoolAsync("UpdateMembershipKey", Update(cluster, 11111, Dead, version: 1)));
        var stored = (await db.ReadRowsAsync("MembershipReadAllKey", ("DeploymentId", cluster, DbType.String))).Single();

        (string, object?, DbType)[] Entry(object? iAmAlive) =>
        [
            ("DeploymentId", cluster, DbType.String), ("Address", "127.0.0.1", DbType.AnsiString), ("Port", 11111, DbType.Int32),
            ("Generation", 7, DbType.Int32), ("SuspectTimes", null, DbType.String),
            ("StartTime", stored["StartTime"], DbType.DateTime), ("IAmAliveTime", iAmAlive, DbType.DateTime),
        ];

        await db.ExecuteAsync("CleanupDefunctSiloEntryKey", Entry(((DateTime)stored["IAmAliveTime"]!).AddSeconds(1)));
        var kept = Assert.Single(await db.ReadRowsAsync("MembershipReadAllKey", ("DeploymentId", cluster, DbType.String)));
        Assert.Equal(11111, Convert.ToInt32(kept["Port"]));

        await db.ExecuteAsync("CleanupDefunctSiloEntryKey", Entry(stored["IAmAliveTime"]));
        var rows = await db.ReadRowsAsync("MembershipReadAllKey", ("DeploymentId", cluster, DbType.String));
        Assert.Equal(DBNull.Value, Assert.Single(rows)["Port"]);
    }

    [Fact]
    public async Task StorageQueries_MoveTheVersionOnEveryChange_AndRejectStaleVersions()
    {
        await using var db = await OpenMigratedAsync(nameof(StorageQueries_MoveTheVersionOnEveryChange_AndRejectStaleVersions));
        var key = StorageKey(extension: null);

        Assert.Equal(1, await db.ReadIntAsync("WriteToStorageKey", [.. key, ("GrainStateVersion", null, DbType.Int32), ("PayloadBinary", "a"u8.ToArray(), DbType.Binary)]));
        Assert.Null(await db.ReadIntAsync("WriteToStorageKey", [.. key, ("GrainStateVersion", null, DbType.Int32), ("PayloadBinary", "b"u8.ToArray(), DbType.Binary)]));
        Assert.Equal(2, await db.ReadIntAsync("WriteToStorageKey", [.. key, ("GrainStateVersion", 1, DbType.Int32), ("PayloadBinary", "c"u8.ToArray(), DbType.Binary)]));
        Assert.Null(await db.ReadIntAsync("WriteToStorageKey", [.. key, ("GrainStateVersion", 1, DbType.Int32), ("PayloadBinary", "d"u8.ToArray(), DbType.Binary)]));

        var read = Assert.Single(await db.ReadRowsAsync("ReadFromStorageKey", key));
        Assert.Equal("c"u8.ToArray(), (byte[])read["PayloadBinary"]!);
        Assert.Equal(2, Convert.ToInt32(read["Version"]));

        // A string key extension is a different grain from no extension.
        var other = StorageKey(extension: string.Empty);
        Assert.Empty(await db.ReadRowsAsync("ReadFromStorageKey", other));
        Assert.Equal(1, await db.ReadIntAsync("WriteToStorageKey", [.. other, ("GrainStateVersion", null, DbType.Int32), ("PayloadBinary", "e"u8.ToArray(), DbType.Binary)]));

        Assert.Null(await db.ReadIntAsync("ClearStorageKey", [.. key, ("GrainStateVersion", 1, DbType.Int32)]));
        Assert.Equal(3, await db.ReadIntAsync("ClearStorageKey", [.. key, ("GrainStateVersion", 2, DbType.Int32)]));
        var cleared = Assert.Single(await db.ReadRowsAsync("ReadFromStorageKey", key));
        Assert.Equal(DBNull.Value, cleared["PayloadBinary"]);
        Assert.Equal(3, Convert.ToInt32(cleared["Version"]));

        Assert.Null(await db.ReadIntAsync("DeleteStorageKey", [.. key, ("GrainStateVersion", 2, DbType.Int32)]));
        Assert.Equal(4, await db.ReadIntAsync("DeleteStorageKey", [.. key, ("GrainStateVersion", 3, DbType.Int32)]));
        Assert.Empty(await db.ReadRowsAsync("ReadFromStorageKey", key));
        Assert.Single(await db.ReadRowsAsync("ReadFromStorageKey", other));
    }

    [Fact]
    public async Task ReminderQueries_ReadSignedHashRanges_AndRemoveOnlyWithTheCurrentVersion()
    {
        await using var db = await OpenMigratedAsync(nameof(ReminderQueries_ReadSignedHashRanges_AndRemoveOnlyWithTheCurrentVersion));
        const string service = "contract-service";
        int[] hashes = [int.MinValue, -1000, -1, 0, 1000, int.MaxValue];
        var versions = new Dictionary<int, int>();
        foreach (var hash in hashes)
        {
            versions[hash] = (await db.ReadIntAsync("UpsertReminderRowKey",
                ("ServiceId", service, DbType.String), ("GrainHash", hash, DbType.Int32), ("GrainId", $"probe/{hash}", DbType.AnsiString),
                ("ReminderName", "tick", DbType.String), ("StartTime", DateTime.UtcNow, DbType.DateTime), ("Period", 60_000, DbType.Int32)))!.Value;
        }

        var again = await db.ReadIntAsync("UpsertReminderRowKey",
            ("ServiceId", service, DbType.String), ("GrainHash", 0, DbType.Int32), ("GrainId", "probe/0", DbType.AnsiString),
            ("ReminderName", "tick", DbType.String), ("StartTime", DateTime.UtcNow, DbType.DateTime), ("Period", 5_000_000_000L, DbType.Int64));
        Assert.NotEqual(versions[0], again);

        async Task<int[]> RangeAsync(string key, int begin, int end) =>
            (await db.ReadRowsAsync(key, ("ServiceId", service, DbType.String), ("BeginHash", begin, DbType.Int32), ("EndHash", end, DbType.Int32)))
            .Select(r => int.Parse(((string)r["GrainId"]!)["probe/".Length..], System.Globalization.CultureInfo.InvariantCulture))
            .Order()
            .ToArray();

        int[] inside = [-1, 0, 1000];
        int[] wrapped = [int.MinValue, -1000, int.MaxValue];
        Assert.Equal(inside, await RangeAsync("ReadRangeRows1Key", -1000, 1000));
        Assert.Equal(wrapped, await RangeAsync("ReadRangeRows2Key", 1000, -1000));
        Assert.Equal(hashes, await RangeAsync("ReadRangeRows2Key", 0, 0));

        var row = Assert.Single(await db.ReadRowsAsync("ReadReminderRowKey",
            ("ServiceId", service, DbType.String), ("GrainId", "probe/0", DbType.AnsiString), ("ReminderName", "tick", DbType.String)));
        Assert.Equal(5_000_000_000L, Convert.ToInt64(row["Period"]));
        Assert.Equal(again, Convert.ToInt32(row["Version"]));

        (string, object?, DbType)[] Remove(int version) =>
            [("ServiceId", service, DbType.String), ("GrainId", "probe/0", DbType.AnsiString), ("ReminderName", "tick", DbType.String), ("Version", version, DbType.Int32)];
        Assert.False(await db.ReadBoolAsync("DeleteReminderRowKey", Remove(versions[0])));
        Assert.True(await db.ReadBoolAsync("DeleteReminderRowKey", Remove(again!.Value)));
        Assert.Single(await db.ReadRowsAsync("ReadReminderRowsKey", ("ServiceId", service, DbType.String), ("GrainId", "probe/1000", DbType.AnsiString)));
        Assert.Equal(hashes.Where(h => h != 0), await RangeAsync("ReadRangeRows2Key", 0, 0));

        await db.ExecuteAsync("DeleteReminderRowsKey", ("ServiceId", service, DbType.String));
        Assert.Empty(await RangeAsync("ReadRangeRows2Key", 0, 0));
    }

    private static (string, object?, DbType)[] Member(string cluster, int port, int status, DateTime started, int version) =>
    [
        ("DeploymentId", cluster, DbType.String), ("IAmAliveTime", started, DbType.DateTime), ("SiloName", $"silo-{port}", DbType.String),
        ("HostName", "localhost", DbType.String), ("Address", "127.0.0.1", DbType.AnsiString), ("Port", port, DbType.Int32),
        ("Generation", 7, DbType.Int32), ("StartTime", started, DbType.DateTime), ("Status", status, DbType.Int32),
        ("ProxyPort", port + 1, DbType.Int32), ("Version", version, DbType.Int32),
    ];

    private static (string, object?, DbType)[] Update(string cluster, int port, int status, int version) =>
    [
        ("DeploymentId", cluster, DbType.String), ("Address", "127.0.0.1", DbType.AnsiString), ("Port", port, DbType.Int32),
        ("Generation", 7, DbType.Int32), ("IAmAliveTime", DateTime.UtcNow.AddMinutes(-5), DbType.DateTime), ("Status", status, DbType.Int32),
        ("SuspectTimes", null, DbType.String), ("Version", version, DbType.Int32),
    ];

    private static (string, object?, DbType)[] StorageKey(string? extension) =>
    [
        ("GrainIdHash", 12345, DbType.Int32), ("GrainIdN0", 0L, DbType.Int64), ("GrainIdN1", 42L, DbType.Int64),
        ("GrainTypeHash", 678, DbType.Int32), ("GrainTypeString", "probe", DbType.String),
        ("GrainIdExtensionString", extension, DbType.String), ("ServiceId", "contract-service", DbType.String),
    ];

    private async Task<StoredQueries> OpenMigratedAsync(string name)
    {
        var connectionString = await server.CreateDatabaseAsync(name);
        await new PostgresMigrator(NullLogger<PostgresMigrator>.Instance).MigrateAsync(connectionString, CancellationToken.None);
        return await StoredQueries.OpenAsync(connectionString);
    }

    /// <summary>The query catalogue of one database, executed the way the providers execute it.</summary>
    private sealed class StoredQueries : IAsyncDisposable
    {
        private readonly NpgsqlConnection _connection;
        private readonly Dictionary<string, string> _queries;

        private StoredQueries(NpgsqlConnection connection, Dictionary<string, string> queries)
        {
            _connection = connection;
            _queries = queries;
        }

        public static async Task<StoredQueries> OpenAsync(string connectionString)
        {
            var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            var queries = new Dictionary<string, string>(StringComparer.Ordinal);
            await using var command = new NpgsqlCommand("SELECT QueryKey, QueryText FROM OrleansQuery", connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                queries.Add(reader.GetString(0), reader.GetString(1));
            }

            return new StoredQueries(connection, queries);
        }

        public async Task ExecuteAsync(string key, params (string Name, object? Value, DbType Type)[] parameters)
        {
            await using var command = Create(key, parameters);
            await command.ExecuteNonQueryAsync();
        }

        public async Task<bool> ReadBoolAsync(string key, params (string Name, object? Value, DbType Type)[] parameters)
        {
            var rows = await ReadRowsAsync(key, parameters);
            var row = Assert.Single(rows);
            Assert.Single(row);
            return Convert.ToBoolean(row.Values.Single());
        }

        public async Task<int?> ReadIntAsync(string key, params (string Name, object? Value, DbType Type)[] parameters)
        {
            var rows = await ReadRowsAsync(key, parameters);
            Assert.True(rows.Count <= 1, $"{key} returned {rows.Count} rows.");
            return rows.Count == 0 ? null : Convert.ToInt32(rows[0].Values.First());
        }

        public async Task<List<Dictionary<string, object?>>> ReadRowsAsync(string key, params (string Name, object? Value, DbType Type)[] parameters)
        {
            await using var command = Create(key, parameters);
            await using var reader = await command.ExecuteReaderAsync();
            var rows = new List<Dictionary<string, object?>>();
            do
            {
                while (await reader.ReadAsync())
                {
                    var row = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
                    for (var i = 0; i < reader.FieldCount; i++)
                    {
                        row[reader.GetName(i)] = reader.GetValue(i);
                    }

                    rows.Add(row);
                }
            }
            while (await reader.NextResultAsync());

            return rows;
        }

        public ValueTask DisposeAsync() => _connection.DisposeAsync();

        private NpgsqlCommand Create(string key, (string Name, object? Value, DbType Type)[] parameters)
        {
            var command = new NpgsqlCommand(_queries[key], _connection);
            foreach (var (name, value, type) in parameters)
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = name;
                parameter.Value = value ?? DBNull.Value;
                parameter.DbType = type;
                command.Parameters.Add(parameter);
            }

            return command;
        }
    }
}
