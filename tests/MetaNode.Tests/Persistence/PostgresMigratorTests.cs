using MetaNode.Silo.Persistence;
using MetaNode.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace MetaNode.Tests.Persistence;

[Collection(PostgresCollection.Name)]
public sealed class PostgresMigratorTests(PostgresServer server)
{
    /// <summary>Every query key the Orleans 10 ADO.NET providers look up, listed by provider.</summary>
    public static readonly string[] ClusteringQueryKeys =
    [
        "GatewaysQueryKey",
        "MembershipReadRowKey",
        "MembershipReadAllKey",
        "InsertMembershipVersionKey",
        "UpdateIAmAlivetimeKey",
        "InsertMembershipKey",
        "UpdateMembershipKey",
        "DeleteMembershipTableEntriesKey",
        "CleanupDefunctSiloEntriesKey",
        "CleanupDefunctSiloEntryKey",
    ];

    public static readonly string[] PersistenceQueryKeys =
    [
        "ReadFromStorageKey",
        "WriteToStorageKey",
        "ClearStorageKey",
        "DeleteStorageKey",
    ];

    public static readonly string[] ReminderQueryKeys =
    [
        "ReadReminderRowsKey",
        "ReadRangeRows1Key",
        "ReadRangeRows2Key",
        "ReadReminderRowKey",
        "UpsertReminderRowKey",
        "DeleteReminderRowKey",
        "DeleteReminderRowsKey",
    ];

    [Fact]
    public async Task MigrateAsync_InstallsEveryProviderQueryOnce_WhenRunTwice()
    {
        var connectionString = await server.CreateDatabaseAsync(nameof(MigrateAsync_InstallsEveryProviderQueryOnce_WhenRunTwice));
        var logger = new ListLogger<PostgresMigrator>();
        var migrator = new PostgresMigrator(logger);

        await migrator.MigrateAsync(connectionString, CancellationToken.None);
        await migrator.MigrateAsync(connectionString, CancellationToken.None);

        var keys = await ReadQueryKeysAsync(connectionString);
        var expected = ClusteringQueryKeys.Concat(PersistenceQueryKeys).Concat(ReminderQueryKeys).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, keys);

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using (var empty = new NpgsqlCommand("SELECT count(*) FROM OrleansQuery WHERE length(trim(QueryText)) = 0", connection))
        {
            Assert.Equal(0L, await empty.ExecuteScalarAsync());
        }

        await using var version = new NpgsqlCommand("SELECT Version, AppliedCount, ScriptsSha256 FROM MetaNodeSchemaVersion", connection);
        await using var reader = await version.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(PostgresSchema.Version, reader.GetInt32(0));
        Assert.Equal(2, reader.GetInt32(1));
        Assert.Equal(PostgresSchema.ComputeSha256(PostgresSchema.LoadScripts()), reader.GetString(2));
        Assert.False(await reader.ReadAsync());

        var messages = logger.Entries.Where(e => e.Level == LogLevel.Information).Select(e => e.Message).ToList();
        Assert.Contains(messages, m => m.StartsWith($"Installed MetaNode schema version {PostgresSchema.Version}", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith($"MetaNode schema version {PostgresSchema.Version} was already installed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MigrateAsync_AppliesOnceAtATime_WhenSilosStartTogether()
    {
        var connectionString = await server.CreateDatabaseAsync(nameof(MigrateAsync_AppliesOnceAtATime_WhenSilosStartTogether));

        var migrations = Enumerable.Range(0, 4)
            .Select(_ => Task.Run(() => new PostgresMigrator(NullLogger<PostgresMigrator>.Instance).MigrateAsync(connectionString, CancellationToken.None)))
            .ToArray();
        await Task.WhenAll(migrations);

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*), sum(AppliedCount) FROM MetaNodeSchemaVersion", connection);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(1L, reader.GetInt64(0));
        Assert.Equal(4L, reader.GetInt64(1));
        Assert.Equal(21, (await ReadQueryKeysAsync(connectionString)).Count);
    }

    [Fact]
    public async Task MigrateAsync_RefusesAndChangesNothing_WhenDatabaseSchemaIsNewer()
    {
        var connectionString = await server.CreateDatabaseAsync(nameof(MigrateAsync_RefusesAndChangesNothing_WhenDatabaseSchemaIsNewer));
        var migrator = new PostgresMigrator(NullLogger<PostgresMigrator>.Instance);
        await migrator.MigrateAsync(connectionString, CancellationToken.None);
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                "INSERT INTO MetaNodeSchemaVersion (Version, Description, ScriptsSha256) VALUES (99, 'future', 'x'); " +
                "UPDATE OrleansQuery SET QueryText = 'SELECT 1' WHERE QueryKey = 'GatewaysQueryKey';",
                connection);
            await command.ExecuteNonQueryAsync();
        }

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => migrator.MigrateAsync(connectionString, CancellationToken.None));

        Assert.Contains("schema version 99", error.Message, StringComparison.Ordinal);
        await using var check = new NpgsqlConnection(connectionString);
        await check.OpenAsync();
        await using var query = new NpgsqlCommand("SELECT QueryText FROM OrleansQuery WHERE QueryKey = 'GatewaysQueryKey'", check);
        Assert.Equal("SELECT 1", await query.ExecuteScalarAsync());
    }

    [Fact]
    public async Task MigrateAsync_RestoresAlteredQueries_WhenRunAgain()
    {
        var connectionString = await server.CreateDatabaseAsync(nameof(MigrateAsync_RestoresAlteredQueries_WhenRunAgain));
        var migrator = new PostgresMigrator(NullLogger<PostgresMigrator>.Instance);
        await migrator.MigrateAsync(connectionString, CancellationToken.None);
        var original = await ReadQueryTextAsync(connectionString, "UpsertReminderRowKey");
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                "UPDATE OrleansQuery SET QueryText = 'SELECT 1' WHERE QueryKey = 'UpsertReminderRowKey'; " +
                "DELETE FROM OrleansQuery WHERE QueryKey = 'GatewaysQueryKey';",
                connection);
            await command.ExecuteNonQueryAsync();
        }

        await migrator.MigrateAsync(connectionString, CancellationToken.None);

        Assert.Equal(original, await ReadQueryTextAsync(connectionString, "UpsertReminderRowKey"));
        Assert.Contains("GatewaysQueryKey", await ReadQueryKeysAsync(connectionString));
    }

    private static async Task<List<string>> ReadQueryKeysAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT QueryKey FROM OrleansQuery ORDER BY QueryKey COLLATE \"C\"", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var keys = new List<string>();
        while (await reader.ReadAsync())
        {
            keys.Add(reader.GetString(0));
        }

        return keys;
    }

    private static async Task<string?> ReadQueryTextAsync(string connectionString, string key)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT QueryText FROM OrleansQuery WHERE QueryKey = @key", connection);
        command.Parameters.AddWithValue("key", key);
        return (string?)await command.ExecuteScalarAsync();
    }
}
