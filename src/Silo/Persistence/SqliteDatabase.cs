using System.Globalization;
using Microsoft.Data.Sqlite;

namespace MetaNode.Silo.Persistence;

/// <summary>
/// One SQLite database file of the embedded profile: opens pooled connections with the busy timeout set,
/// switches the file to WAL mode and creates the schema (idempotently) before the first use.
/// </summary>
internal sealed partial class SqliteDatabase : IDisposable
{
    /// <summary>The schema version this build writes into <c>PRAGMA user_version</c>.</summary>
    internal const int SchemaVersion = 1;

    private const string SchemaSql =
        """
        CREATE TABLE IF NOT EXISTS grain_state
        (
            service_id   TEXT    NOT NULL,
            state_name   TEXT    NOT NULL,
            grain_id     TEXT    NOT NULL,
            payload      BLOB    NULL,
            version      INTEGER NOT NULL,
            modified_utc TEXT    NOT NULL,
            PRIMARY KEY (service_id, state_name, grain_id)
        ) WITHOUT ROWID;

        CREATE TABLE IF NOT EXISTS reminders
        (
            service_id     TEXT    NOT NULL,
            grain_id       TEXT    NOT NULL,
            reminder_name  TEXT    NOT NULL,
            grain_hash     INTEGER NOT NULL,
            start_at_ticks INTEGER NOT NULL,
            period_ticks   INTEGER NOT NULL,
            etag           TEXT    NOT NULL,
            PRIMARY KEY (service_id, grain_id, reminder_name)
        ) WITHOUT ROWID;

        CREATE INDEX IF NOT EXISTS ix_reminders_grain_hash ON reminders (service_id, grain_hash);
        """;

    private readonly string _connectionString;
    private readonly int _busyTimeoutMilliseconds;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _schemaGate = new(1, 1);
    private volatile bool _schemaReady;

    public SqliteDatabase(string databasePath, TimeSpan busyTimeout, ILogger logger)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        ArgumentNullException.ThrowIfNull(logger);
        FullPath = Path.GetFullPath(databasePath);
        _busyTimeoutMilliseconds = (int)Math.Clamp(busyTimeout.TotalMilliseconds, 1, int.MaxValue);
        _logger = logger;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = FullPath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = (int)Math.Ceiling(Math.Max(1, busyTimeout.TotalSeconds)),
        }.ToString();
    }

    /// <summary>The absolute path of the database file.</summary>
    public string FullPath { get; }

    /// <summary>Opens a connection, creating the file and its schema first if needed.</summary>
    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        return await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates the file, turns on WAL mode and creates the schema if that was not done yet.</summary>
    public async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        if (_schemaReady)
        {
            return;
        }

        await _schemaGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_schemaReady)
            {
                return;
            }

            var directory = Path.GetDirectoryName(FullPath);
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }

            await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            var journalMode = Convert.ToString(
                await ScalarAsync(connection, "PRAGMA journal_mode = WAL;", cancellationToken).ConfigureAwait(false),
                CultureInfo.InvariantCulture);
            if (!string.Equals(journalMode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                LogWalUnavailable(_logger, FullPath, journalMode);
            }

            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            var fileVersion = Convert.ToInt32(
                await ScalarAsync(connection, "PRAGMA user_version;", cancellationToken, transaction).ConfigureAwait(false),
                CultureInfo.InvariantCulture);
            if (fileVersion > SchemaVersion)
            {
                throw new InvalidOperationException(
                    $"The SQLite database '{FullPath}' has schema version {fileVersion}, newer than version {SchemaVersion} this silo knows. " +
                    $"Run a newer silo or point {SqliteStorageOptions.SectionName}:{nameof(SqliteStorageOptions.DatabasePath)} at another file.");
            }

            await using (var command = connection.CreateCommand())
            {
                command.Transaction = transaction;
                command.CommandText = SchemaSql + $"PRAGMA user_version = {SchemaVersion};";
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            _schemaReady = true;
            LogSchemaReady(_logger, FullPath, fileVersion, SchemaVersion, journalMode);
        }
        finally
        {
            _schemaGate.Release();
        }
    }

    /// <summary>Closes the pooled connections to the file so it can be moved, copied or reopened cleanly.</summary>
    public void Dispose()
    {
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
    }

    private async Task<SqliteConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.CommandText = $"PRAGMA busy_timeout = {_busyTimeoutMilliseconds.ToString(CultureInfo.InvariantCulture)};";
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<object?> ScalarAsync(
        SqliteConnection connection,
        string sql,
        CancellationToken cancellationToken,
        SqliteTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }
}
