using System.Globalization;
using Microsoft.Data.Sqlite;

namespace MetaNode.Silo.Persistence;

/// <summary>
/// The reminder table of the embedded profile, in a SQLite file (possibly the grain-state file).
/// </summary>
/// <remarks>
/// Grain hashes are stored as unsigned 32-bit values. A hash range <c>(begin, end]</c> wraps past the end of
/// the ring when <c>begin &gt;= end</c>; <c>begin == end</c> is the whole ring. Every upsert gives the row a
/// fresh random ETag, so an ETag from a removed and re-registered reminder never matches again.
/// </remarks>
public sealed partial class SqliteReminderTable : IReminderTable, IDisposable
{
    /// <summary>The name under which the reminder table's <see cref="SqliteStorageOptions"/> are registered.</summary>
    public const string OptionsName = "MetaNode.Reminders";

    private const string SelectColumns = "SELECT grain_id, reminder_name, start_at_ticks, period_ticks, etag FROM reminders";

    private readonly string _serviceId;
    private readonly ILogger<SqliteReminderTable> _logger;
    private readonly SqliteDatabase _database;

    public SqliteReminderTable(SqliteStorageOptions options, string serviceId, ILogger<SqliteReminderTable> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceId);
        ArgumentNullException.ThrowIfNull(logger);
        _serviceId = serviceId;
        _logger = logger;
        _database = new SqliteDatabase(options.DatabasePath, options.BusyTimeout, logger);
    }

    /// <summary>The absolute path of the database file.</summary>
    public string DatabasePath => _database.FullPath;

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        LogStarted(_logger, _database.FullPath, _serviceId);
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        _database.Dispose();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<ReminderTableData> ReadRows(GrainId grainId) => ReadRows(grainId, CancellationToken.None);

    /// <inheritdoc />
    public Task<ReminderTableData> ReadRows(GrainId grainId, CancellationToken cancellationToken) =>
        QueryAsync(
            "read reminders of grain " + grainId,
            SelectColumns + " WHERE service_id = $service AND grain_id = $grain;",
            command => command.Parameters.AddWithValue("$grain", grainId.ToString()),
            cancellationToken);

    /// <inheritdoc />
    public Task<ReminderTableData> ReadRows(uint begin, uint end) => ReadRows(begin, end, CancellationToken.None);

    /// <inheritdoc />
    public Task<ReminderTableData> ReadRows(uint begin, uint end, CancellationToken cancellationToken)
    {
        var predicate = begin < end
            ? "grain_hash > $begin AND grain_hash <= $end"
            : "(grain_hash > $begin OR grain_hash <= $end)";
        return QueryAsync(
            string.Create(CultureInfo.InvariantCulture, $"read reminders in range (0x{begin:X8}, 0x{end:X8}]"),
            SelectColumns + " WHERE service_id = $service AND " + predicate + ";",
            command =>
            {
                command.Parameters.AddWithValue("$begin", (long)begin);
                command.Parameters.AddWithValue("$end", (long)end);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) => ReadRow(grainId, reminderName, CancellationToken.None);

    /// <inheritdoc />
    public async Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reminderName);
        var rows = await QueryAsync(
            $"read reminder '{reminderName}' of grain {grainId}",
            SelectColumns + " WHERE service_id = $service AND grain_id = $grain AND reminder_name = $name;",
            command =>
            {
                command.Parameters.AddWithValue("$grain", grainId.ToString());
                command.Parameters.AddWithValue("$name", reminderName);
            },
            cancellationToken).ConfigureAwait(false);
        return rows.Reminders.Count == 0 ? null : rows.Reminders[0];
    }

    /// <inheritdoc />
    public Task<string?> UpsertRow(ReminderEntry entry) => UpsertRow(entry, CancellationToken.None);

    /// <inheritdoc />
    public async Task<string?> UpsertRow(ReminderEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(entry.ReminderName);
        var etag = Guid.NewGuid().ToString("N");
        var startAt = ToUtc(entry.StartAt);
        await ExecuteAsync(
            $"upsert reminder '{entry.ReminderName}' of grain {entry.GrainId}",
            """
            INSERT INTO reminders (service_id, grain_id, reminder_name, grain_hash, start_at_ticks, period_ticks, etag)
            VALUES ($service, $grain, $name, $hash, $start, $period, $etag)
            ON CONFLICT (service_id, grain_id, reminder_name) DO UPDATE
            SET grain_hash = excluded.grain_hash,
                start_at_ticks = excluded.start_at_ticks,
                period_ticks = excluded.period_ticks,
                etag = excluded.etag;
            """,
            command =>
            {
                command.Parameters.AddWithValue("$grain", entry.GrainId.ToString());
                command.Parameters.AddWithValue("$name", entry.ReminderName);
                command.Parameters.AddWithValue("$hash", (long)entry.GrainId.GetUniformHashCode());
                command.Parameters.AddWithValue("$start", startAt.Ticks);
                command.Parameters.AddWithValue("$period", entry.Period.Ticks);
                command.Parameters.AddWithValue("$etag", etag);
            },
            cancellationToken).ConfigureAwait(false);
        LogUpserted(_logger, entry.ReminderName, entry.GrainId.ToString(), etag);
        return etag;
    }

    /// <inheritdoc />
    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag) => RemoveRow(grainId, reminderName, eTag, CancellationToken.None);

    /// <inheritdoc />
    public async Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reminderName);
        var removed = await ExecuteAsync(
            $"remove reminder '{reminderName}' of grain {grainId}",
            "DELETE FROM reminders WHERE service_id = $service AND grain_id = $grain AND reminder_name = $name AND etag = $etag;",
            command =>
            {
                command.Parameters.AddWithValue("$grain", grainId.ToString());
                command.Parameters.AddWithValue("$name", reminderName);
                command.Parameters.AddWithValue("$etag", eTag ?? string.Empty);
            },
            cancellationToken).ConfigureAwait(false);
        LogRemoved(_logger, reminderName, grainId.ToString(), eTag, removed > 0);
        return removed > 0;
    }

    /// <inheritdoc />
    public Task TestOnlyClearTable() => TestOnlyClearTable(CancellationToken.None);

    /// <inheritdoc />
    public async Task TestOnlyClearTable(CancellationToken cancellationToken)
    {
        var removed = await ExecuteAsync(
            "clear the reminder table",
            "DELETE FROM reminders WHERE service_id = $service;",
            static _ => { },
            cancellationToken).ConfigureAwait(false);
        LogCleared(_logger, _serviceId, removed);
    }

    /// <summary>Closes the pooled connections to the database file.</summary>
    public void Dispose() => _database.Dispose();

    private Task<ReminderTableData> QueryAsync(
        string operation,
        string sql,
        Action<SqliteCommand> addParameters,
        CancellationToken cancellationToken) =>
        RunAsync(operation, sql, addParameters, async (command, ct) =>
        {
            var entries = new List<ReminderEntry>();
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                entries.Add(new ReminderEntry
                {
                    GrainId = GrainId.Parse(reader.GetString(0)),
                    ReminderName = reader.GetString(1),
                    StartAt = new DateTime(reader.GetInt64(2), DateTimeKind.Utc),
                    Period = TimeSpan.FromTicks(reader.GetInt64(3)),
                    ETag = reader.GetString(4),
                });
            }

            return new ReminderTableData(entries);
        }, cancellationToken);

    private Task<int> ExecuteAsync(
        string operation,
        string sql,
        Action<SqliteCommand> addParameters,
        CancellationToken cancellationToken) =>
        RunAsync(operation, sql, addParameters, (command, ct) => command.ExecuteNonQueryAsync(ct), cancellationToken);

    /// <summary>Opens a connection, prepares <paramref name="sql"/> scoped to this service, runs it, and logs a storage failure before rethrowing it.</summary>
    private async Task<T> RunAsync<T>(
        string operation,
        string sql,
        Action<SqliteCommand> addParameters,
        Func<SqliteCommand, CancellationToken, Task<T>> run,
        CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$service", _serviceId);
            addParameters(command);
            return await run(command, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is SqliteException or IOException)
        {
            LogOperationFailed(_logger, exception, operation, _database.FullPath);
            throw;
        }
    }

    private static DateTime ToUtc(DateTime value) => value.Kind switch
    {
        DateTimeKind.Utc => value,
        DateTimeKind.Local => value.ToUniversalTime(),
        _ => DateTime.SpecifyKind(value, DateTimeKind.Utc),
    };
}
