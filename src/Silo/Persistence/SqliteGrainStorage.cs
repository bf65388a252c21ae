using System.Globalization;
using Microsoft.Data.Sqlite;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace MetaNode.Silo.Persistence;

/// <summary>
/// Grain state in a SQLite file (the embedded profile). One row per service, state name and grain;
/// the ETag is the row's version, which moves on with every write and clear.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>A write with no ETag creates the row and fails if one already exists; a write or clear with an ETag
/// succeeds only while the stored version equals it. Failures throw <see cref="InconsistentStateException"/>.</item>
/// <item>Clear keeps the row with no payload, so versions never go back and an old ETag never matches again.</item>
/// <item><see cref="IGrainState{T}.RecordExists"/> is true only while a payload is stored.</item>
/// </list>
/// </remarks>
public sealed partial class SqliteGrainStorage : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly string _name;
    private readonly string _serviceId;
    private readonly SqliteStorageOptions _options;
    private readonly IGrainStorageSerializer _serializer;
    private readonly IActivatorProvider _activatorProvider;
    private readonly ILogger<SqliteGrainStorage> _logger;
    private readonly SqliteDatabase _database;
    private readonly SqliteGroupCommit _writes;

    public SqliteGrainStorage(
        string name,
        SqliteStorageOptions options,
        string serviceId,
        IActivatorProvider activatorProvider,
        ILogger<SqliteGrainStorage> logger)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceId);
        ArgumentNullException.ThrowIfNull(activatorProvider);
        ArgumentNullException.ThrowIfNull(logger);
        if (options.GrainStorageSerializer is null)
        {
            throw new ArgumentException(
                $"SQLite grain storage '{name}' has no {nameof(SqliteStorageOptions.GrainStorageSerializer)}; register it through AddSqliteGrainStorage or set one.",
                nameof(options));
        }

        _name = name;
        _serviceId = serviceId;
        _options = options;
        _serializer = options.GrainStorageSerializer;
        _activatorProvider = activatorProvider;
        _logger = logger;
        _database = new SqliteDatabase(options.DatabasePath, options.BusyTimeout, logger);
        _writes = new SqliteGroupCommit(_database, $"The SQLite grain storage '{name}'");
    }

    /// <summary>The provider name grains refer to.</summary>
    public string Name => _name;

    /// <summary>The absolute path of the database file.</summary>
    public string DatabasePath => _database.FullPath;

    /// <inheritdoc />
    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(
            OptionFormattingUtilities.Name<SqliteGrainStorage>(_name),
            _options.InitStage,
            InitializeAsync,
            CloseAsync);
    }

    /// <summary>Creates the database file and schema; called at silo start so a bad path fails the start.</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        LogInitialized(_logger, _name, _database.FullPath, _serviceId);
    }

    /// <inheritdoc />
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ReadStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        var grainKey = grainId.ToString();
        try
        {
            await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.CommandText =
                "SELECT payload, version FROM grain_state WHERE service_id = $service AND state_name = $state AND grain_id = $grain;";
            AddKey(command, stateName, grainKey);

            byte[]? payload = null;
            string? etag = null;
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    payload = reader.IsDBNull(0) ? null : (byte[])reader.GetValue(0);
                    etag = reader.GetInt64(1).ToString(CultureInfo.InvariantCulture);
                }
            }

            var state = payload is null ? default : _serializer.Deserialize<T>(new BinaryData(payload));
            grainState.State = state ?? CreateInstance<T>();
            grainState.ETag = etag;
            grainState.RecordExists = payload is not null;
            LogRead(_logger, _name, stateName, grainKey, etag, grainState.RecordExists);
        }
        catch (Exception exception) when (exception is SqliteException or InvalidOperationException or IOException)
        {
            LogOperationFailed(_logger, exception, "read", _name, stateName, grainKey, grainState.ETag);
            throw;
        }
    }

    /// <inheritdoc />
    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        WriteStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        var grainKey = grainId.ToString();
        var expected = ParseETag(stateName, grainKey, grainState.ETag, "write");
        var payload = _serializer.Serialize(grainState.State).ToArray();

        long? newVersion;
        try
        {
            string? stored;
            (newVersion, stored) = await _writes.RunAsync((connection, transaction) => Write(connection, transaction, stateName, grainKey, expected, payload), cancellationToken).ConfigureAwait(false);
            if (newVersion is null)
            {
                throw Conflict("write", stateName, grainKey, stored, grainState.ETag);
            }
        }
        catch (Exception exception) when (exception is SqliteException or IOException)
        {
            LogOperationFailed(_logger, exception, "write", _name, stateName, grainKey, grainState.ETag);
            throw;
        }

        grainState.ETag = newVersion.Value.ToString(CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
        LogWritten(_logger, _name, stateName, grainKey, grainState.ETag, payload.Length);
    }

    /// <summary>One write inside a shared transaction: the new version, or null and the stored version when the ETag did not match.</summary>
    private (long? Version, string? Stored) Write(SqliteConnection connection, SqliteTransaction transaction, string stateName, string grainKey, long? expected, byte[] payload)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = expected is null
            ? """
              INSERT INTO grain_state (service_id, state_name, grain_id, payload, version, modified_utc)
              VALUES ($service, $state, $grain, $payload, 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
              ON CONFLICT (service_id, state_name, grain_id) DO NOTHING
              RETURNING version;
              """
            : """
              UPDATE grain_state
              SET payload = $payload, version = version + 1, modified_utc = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
              WHERE service_id = $service AND state_name = $state AND grain_id = $grain AND version = $expected
              RETURNING version;
              """;
        AddKey(command, stateName, grainKey);
        command.Parameters.Add("$payload", SqliteType.Blob).Value = payload;
        if (expected is not null)
        {
            command.Parameters.AddWithValue("$expected", expected.Value);
        }

        var version = ToInt64(command.ExecuteScalar());
        if (version is not null)
        {
            return (version, null);
        }

        using var read = connection.CreateCommand();
        read.Transaction = transaction;
        read.CommandText = "SELECT version FROM grain_state WHERE service_id = $service AND state_name = $state AND grain_id = $grain;";
        AddKey(read, stateName, grainKey);
        return (null, ToInt64(read.ExecuteScalar())?.ToString(CultureInfo.InvariantCulture));
    }

    /// <inheritdoc />
    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ClearStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        var grainKey = grainId.ToString();
        var expected = ParseETag(stateName, grainKey, grainState.ETag, "clear");

        string? newETag = null;
        try
        {
            await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
            if (expected is null)
            {
                // The grain believes nothing is stored; that is only consistent if nothing is.
                var stored = await ReadStoredVersionAsync(connection, stateName, grainKey, cancellationToken).ConfigureAwait(false);
                if (stored is not null)
                {
                    throw Conflict("clear", stateName, grainKey, stored, grainState.ETag);
                }
            }
            else
            {
                await using var command = connection.CreateCommand();
                command.CommandText =
                    """
                    UPDATE grain_state
                    SET payload = NULL, version = version + 1, modified_utc = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                    WHERE service_id = $service AND state_name = $state AND grain_id = $grain AND version = $expected
                    RETURNING version;
                    """;
                AddKey(command, stateName, grainKey);
                command.Parameters.AddWithValue("$expected", expected.Value);
                var newVersion = await ScalarInt64Async(command, cancellationToken).ConfigureAwait(false);
                if (newVersion is null)
                {
                    var stored = await ReadStoredVersionAsync(connection, stateName, grainKey, cancellationToken).ConfigureAwait(false);
                    throw Conflict("clear", stateName, grainKey, stored, grainState.ETag);
                }

                newETag = newVersion.Value.ToString(CultureInfo.InvariantCulture);
            }
        }
        catch (Exception exception) when (exception is SqliteException or IOException)
        {
            LogOperationFailed(_logger, exception, "clear", _name, stateName, grainKey, grainState.ETag);
            throw;
        }

        grainState.ETag = newETag;
        grainState.RecordExists = false;
        grainState.State = CreateInstance<T>();
        LogCleared(_logger, _name, stateName, grainKey, newETag);
    }

    /// <summary>Closes the pooled connections to the database file; a write after this fails at once, naming the store.</summary>
    public void Dispose()
    {
        _writes.Close();
        _database.Dispose();
    }

    private Task CloseAsync(CancellationToken cancellationToken)
    {
        _writes.Close();
        _database.Dispose();
        return Task.CompletedTask;
    }

    private void AddKey(SqliteCommand command, string stateName, string grainKey)
    {
        command.Parameters.AddWithValue("$service", _serviceId);
        command.Parameters.AddWithValue("$state", stateName);
        command.Parameters.AddWithValue("$grain", grainKey);
    }

    private async Task<string?> ReadStoredVersionAsync(SqliteConnection connection, string stateName, string grainKey, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT version FROM grain_state WHERE service_id = $service AND state_name = $state AND grain_id = $grain;";
        AddKey(command, stateName, grainKey);
        var version = await ScalarInt64Async(command, cancellationToken).ConfigureAwait(false);
        return version?.ToString(CultureInfo.InvariantCulture);
    }

    private static long? ToInt64(object? result) =>
        result is null or DBNull ? null : Convert.ToInt64(result, CultureInfo.InvariantCulture);

    private static async Task<long?> ScalarInt64Async(SqliteCommand command, CancellationToken cancellationToken)
    {
        return ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false));
    }

    private long? ParseETag(string stateName, string grainKey, string? etag, string operation)
    {
        if (string.IsNullOrEmpty(etag))
        {
            return null;
        }

        if (long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            return version;
        }

        throw Conflict(operation, stateName, grainKey, storedETag: null, etag);
    }

    private InconsistentStateException Conflict(string operation, string stateName, string grainKey, string? storedETag, string? currentETag)
    {
        LogConflict(_logger, operation, _name, stateName, grainKey, currentETag, storedETag);
        return new InconsistentStateException(
            $"SQLite grain storage '{_name}' refused to {operation} state '{stateName}' of grain {grainKey}: the grain holds ETag " +
            $"'{currentETag ?? "(none)"}' but the store holds '{storedETag ?? "(no record)"}'. Another activation changed it; reactivate the grain to reload.",
            storedETag ?? string.Empty,
            currentETag ?? string.Empty);
    }

    private T CreateInstance<T>() => _activatorProvider.GetActivator<T>().Create();
}
