namespace MetaNode.Silo.Persistence;

internal sealed partial class SqliteDatabase
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Debug,
        Message = "SQLite database '{Path}' ready (schema version {PreviousVersion} -> {Version}, journal mode {JournalMode})")]
    private static partial void LogSchemaReady(ILogger logger, string path, int previousVersion, int version, string? journalMode);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning,
        Message = "SQLite database '{Path}' could not switch to WAL mode (journal mode is {JournalMode}); readers will block writers. Keep the file on a local file system")]
    private static partial void LogWalUnavailable(ILogger logger, string path, string? journalMode);
}
