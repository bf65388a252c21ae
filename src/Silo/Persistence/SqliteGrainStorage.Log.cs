namespace MetaNode.Silo.Persistence;

public sealed partial class SqliteGrainStorage
{
    [LoggerMessage(EventId = 200, Level = LogLevel.Debug,
        Message = "SQLite grain storage '{Name}' uses '{Path}' for service {ServiceId}")]
    private static partial void LogInitialized(ILogger logger, string name, string path, string serviceId);

    [LoggerMessage(EventId = 201, Level = LogLevel.Trace,
        Message = "SQLite grain storage '{Name}' read state '{StateName}' of grain {GrainId}: ETag {ETag}, record exists {RecordExists}")]
    private static partial void LogRead(ILogger logger, string name, string stateName, string grainId, string? etag, bool recordExists);

    [LoggerMessage(EventId = 202, Level = LogLevel.Trace,
        Message = "SQLite grain storage '{Name}' wrote state '{StateName}' of grain {GrainId}: ETag {ETag}, {Bytes} bytes")]
    private static partial void LogWritten(ILogger logger, string name, string stateName, string grainId, string etag, int bytes);

    [LoggerMessage(EventId = 203, Level = LogLevel.Trace,
        Message = "SQLite grain storage '{Name}' cleared state '{StateName}' of grain {GrainId}: ETag {ETag}")]
    private static partial void LogCleared(ILogger logger, string name, string stateName, string grainId, string? etag);

    [LoggerMessage(EventId = 204, Level = LogLevel.Debug,
        Message = "SQLite grain storage refused to {Operation} in '{Name}' state '{StateName}' of grain {GrainId}: grain ETag {ETag}, stored ETag {StoredETag}")]
    private static partial void LogConflict(ILogger logger, string operation, string name, string stateName, string grainId, string? etag, string? storedETag);

    [LoggerMessage(EventId = 205, Level = LogLevel.Error,
        Message = "SQLite grain storage '{Name}' failed to {Operation} state '{StateName}' of grain {GrainId} (ETag {ETag}); check that the database file is writable and not locked by another process")]
    private static partial void LogOperationFailed(ILogger logger, Exception exception, string operation, string name, string stateName, string grainId, string? etag);
}
