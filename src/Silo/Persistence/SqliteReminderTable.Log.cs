namespace MetaNode.Silo.Persistence;

public sealed partial class SqliteReminderTable
{
    [LoggerMessage(EventId = 300, Level = LogLevel.Debug,
        Message = "SQLite reminder table uses '{Path}' for service {ServiceId}")]
    private static partial void LogStarted(ILogger logger, string path, string serviceId);

    [LoggerMessage(EventId = 301, Level = LogLevel.Trace,
        Message = "Upserted reminder '{ReminderName}' of grain {GrainId}: ETag {ETag}")]
    private static partial void LogUpserted(ILogger logger, string reminderName, string grainId, string etag);

    [LoggerMessage(EventId = 302, Level = LogLevel.Trace,
        Message = "Remove reminder '{ReminderName}' of grain {GrainId} with ETag {ETag}: removed {Removed}")]
    private static partial void LogRemoved(ILogger logger, string reminderName, string grainId, string? etag, bool removed);

    [LoggerMessage(EventId = 303, Level = LogLevel.Warning,
        Message = "Cleared the SQLite reminder table of service {ServiceId} ({Count} reminders removed)")]
    private static partial void LogCleared(ILogger logger, string serviceId, int count);

    [LoggerMessage(EventId = 304, Level = LogLevel.Error,
        Message = "SQLite reminder table failed to {Operation} in '{Path}'; check that the file is writable and not locked by another process")]
    private static partial void LogOperationFailed(ILogger logger, Exception exception, string operation, string path);
}
