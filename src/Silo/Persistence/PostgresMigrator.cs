using System.Diagnostics;
using Npgsql;

namespace MetaNode.Silo.Persistence;

/// <summary>
/// Installs or refreshes the cluster profile's PostgreSQL schema (<see cref="PostgresSchema"/>).
/// </summary>
/// <remarks>
/// All scripts run in one transaction that first takes a transaction-scoped advisory lock, so silos that
/// start at the same moment migrate one after the other and each sees either no schema or all of it.
/// The scripts are idempotent; running the migrator again re-applies them (refreshing the stored queries)
/// and records the run on the version row. A database whose schema is newer than this build is refused.
/// </remarks>
public sealed partial class PostgresMigrator
{
    /// <summary>The advisory lock key every MetaNode migrator takes ("MetaNode" in ASCII).</summary>
    public const long AdvisoryLockKey = 0x4D65_7461_4E6F_6465;

    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(5);

    private readonly ILogger<PostgresMigrator> _logger;

    public PostgresMigrator(ILogger<PostgresMigrator> logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;
    }

    /// <summary>Applies the schema to the database <paramref name="connectionString"/> points at.</summary>
    /// <exception cref="InvalidOperationException">The database holds a newer schema version than this build knows.</exception>
    public async Task MigrateAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);

        var target = new NpgsqlConnectionStringBuilder(connectionString);
        var scripts = PostgresSchema.LoadScripts();
        var sha256 = PostgresSchema.ComputeSha256(scripts);
        var started = Stopwatch.GetTimestamp();
        LogMigrationStarting(_logger, target.Host, target.Port, target.Database, PostgresSchema.Version);

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        var lockWait = Stopwatch.GetTimestamp();
        await ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(@key)", cancellationToken, ("key", AdvisoryLockKey))
            .ConfigureAwait(false);
        LogLockAcquired(_logger, target.Database, Stopwatch.GetElapsedTime(lockWait).TotalMilliseconds);

        var installedVersion = await ReadInstalledVersionAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
        if (installedVersion > PostgresSchema.Version)
        {
            LogSchemaNewerThanBuild(_logger, target.Database, installedVersion, PostgresSchema.Version);
            throw new InvalidOperationException(
                $"Database '{target.Database}' on {target.Host}:{target.Port} has MetaNode schema version {installedVersion}, " +
                $"newer than version {PostgresSchema.Version} this silo knows. Run a silo build that supports version {installedVersion} " +
                "or point the connection string at another database.");
        }

        foreach (var script in scripts)
        {
            var scriptStarted = Stopwatch.GetTimestamp();
            await ExecuteAsync(connection, transaction, script.Text, cancellationToken).ConfigureAwait(false);
            LogScriptApplied(_logger, script.Name, Stopwatch.GetElapsedTime(scriptStarted).TotalMilliseconds);
        }

        var firstInstall = await RecordVersionAsync(connection, transaction, sha256, cancellationToken).ConfigureAwait(false);
        var queryCount = await CountQueriesAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);

        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (firstInstall)
        {
            LogSchemaInstalled(_logger, target.Database, PostgresSchema.Version, installedVersion, queryCount, elapsed);
        }
        else
        {
            LogSchemaReapplied(_logger, target.Database, PostgresSchema.Version, queryCount, elapsed);
        }
    }

    private static async Task<int> ReadInstalledVersionAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using (var exists = CreateCommand(connection, transaction, "SELECT to_regclass('metanodeschemaversion') IS NOT NULL"))
        {
            if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not true)
            {
                return 0;
            }
        }

        await using var command = CreateCommand(connection, transaction, "SELECT COALESCE(max(Version), 0) FROM MetaNodeSchemaVersion");
        var result = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return Convert.ToInt32(result, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<bool> RecordVersionAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sha256, CancellationToken cancellationToken)
    {
        await using var command = CreateCommand(connection, transaction,
            """
            INSERT INTO MetaNodeSchemaVersion AS v (Version, Description, ScriptsSha256)
            VALUES (@version, @description, @sha256)
            ON CONFLICT (Version) DO UPDATE
            SET Description = EXCLUDED.Description,
                ScriptsSha256 = EXCLUDED.ScriptsSha256,
                LastAppliedAt = now(),
                AppliedCount = v.AppliedCount + 1
            RETURNING v.AppliedCount = 1
            """);
        command.Parameters.AddWithValue("version", PostgresSchema.Version);
        command.Parameters.AddWithValue("description", PostgresSchema.Description);
        command.Parameters.AddWithValue("sha256", sha256);
        var result = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return result is true;
    }

    private static async Task<int> CountQueriesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var command = CreateCommand(connection, transaction, "SELECT count(*) FROM OrleansQuery");
        var result = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return Convert.ToInt32(result, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task ExecuteAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction transaction,
        string sql,
        CancellationToken cancellationToken,
        params (string Name, object Value)[] parameters)
    {
        await using var command = CreateCommand(connection, transaction, sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static NpgsqlCommand CreateCommand(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql) =>
        new(sql, connection, transaction) { CommandTimeout = (int)CommandTimeout.TotalSeconds };
}
