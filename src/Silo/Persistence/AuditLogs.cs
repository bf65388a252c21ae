using MetaNode.Grains.Security;
using MetaNode.Security;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace MetaNode.Silo.Persistence;

/// <summary>The embedded profile's audit log: a table in the silo's SQLite file whose triggers refuse updates and deletes.</summary>
internal sealed class SqliteAuditLog : IAuditLog
{
    private const string Schema =
        """
        CREATE TABLE IF NOT EXISTS audit_log
        (
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            time_ticks INTEGER NOT NULL,
            identity   TEXT    NOT NULL,
            method     TEXT    NOT NULL,
            target     TEXT    NOT NULL,
            outcome    TEXT    NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_audit_log_time ON audit_log (time_ticks);
        CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """;

    private readonly string _connectionString;
    private readonly SemaphoreSlim _schemaGate = new(1, 1);
    private volatile bool _schemaReady;

    public SqliteAuditLog(string databasePath)
    {
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path.GetFullPath(databasePath),
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public async Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO audit_log (time_ticks, identity, method, target, outcome) VALUES ($time, $identity, $method, $target, $outcome)";
        command.Parameters.AddWithValue("$time", entry.Time.UtcTicks);
        command.Parameters.AddWithValue("$identity", entry.Identity);
        command.Parameters.AddWithValue("$method", entry.Method);
        command.Parameters.AddWithValue("$target", entry.Target);
        command.Parameters.AddWithValue("$outcome", entry.Outcome);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<AuditEntry>> ListAsync(AuditQuery query, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText =
            """
            SELECT time_ticks, identity, method, target, outcome FROM
              (SELECT id, time_ticks, identity, method, target, outcome FROM audit_log
               WHERE time_ticks >= $since AND ($identity IS NULL OR identity = $identity)
               ORDER BY id DESC LIMIT $limit)
            ORDER BY id
            """;
        command.Parameters.AddWithValue("$since", query.Since?.UtcTicks ?? 0);
        command.Parameters.AddWithValue("$identity", (object?)query.Identity ?? DBNull.Value);
        command.Parameters.AddWithValue("$limit", query.Limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await AuditRows.ReadAsync(reader, r => new DateTimeOffset(r.GetInt64(0), TimeSpan.Zero), cancellationToken).ConfigureAwait(false);
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        if (!_schemaReady)
        {
            await _schemaGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (!_schemaReady)
                {
                    await using var command = connection.CreateCommand();
                    command.CommandText = "PRAGMA journal_mode=WAL; " + Schema;
                    await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    _schemaReady = true;
                }
            }
            finally
            {
                _schemaGate.Release();
            }
        }

        return connection;
    }
}

/// <summary>The cluster profile's audit log: the <c>MetaNodeAudit</c> table (installed by the migrator), append-only by trigger.</summary>
internal sealed class PostgresAuditLog(string connectionString) : IAuditLog
{
    public async Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("INSERT INTO MetaNodeAudit (Time, Identity, Method, Target, Outcome) VALUES (@time, @identity, @method, @target, @outcome)", connection);
        command.Parameters.AddWithValue("time", entry.Time.ToUniversalTime());
        command.Parameters.AddWithValue("identity", entry.Identity);
        command.Parameters.AddWithValue("method", entry.Method);
        command.Parameters.AddWithValue("target", entry.Target);
        command.Parameters.AddWithValue("outcome", entry.Outcome);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<AuditEntry>> ListAsync(AuditQuery query, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            """
            SELECT Time, Identity, Method, Target, Outcome FROM
              (SELECT Id, Time, Identity, Method, Target, Outcome FROM MetaNodeAudit
               WHERE Time >= @since AND (@identity::text IS NULL OR Identity = @identity::text)
               ORDER BY Id DESC LIMIT @limit) newest
            ORDER BY Id
            """,
            connection);
        command.Parameters.AddWithValue("since", (query.Since ?? DateTimeOffset.UnixEpoch).ToUniversalTime());
        command.Parameters.AddWithValue("identity", (object?)query.Identity ?? DBNull.Value);
        command.Parameters.AddWithValue("limit", query.Limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await AuditRows.ReadAsync(reader, r => r.GetFieldValue<DateTimeOffset>(0), cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Reads audit rows selected as (time, identity, method, target, outcome).</summary>
internal static class AuditRows
{
    public static async Task<IReadOnlyList<AuditEntry>> ReadAsync(DbDataReader reader, Func<DbDataReader, DateTimeOffset> time, CancellationToken cancellationToken)
    {
        var entries = new List<AuditEntry>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            entries.Add(new AuditEntry
            {
                Time = time(reader),
                Identity = reader.GetString(1),
                Method = reader.GetString(2),
                Target = reader.GetString(3),
                Outcome = reader.GetString(4),
            });
        }

        return entries;
    }
}
