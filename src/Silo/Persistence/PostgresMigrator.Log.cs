namespace MetaNode.Silo.Persistence;

public sealed partial class PostgresMigrator
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "Migrating PostgreSQL database '{Database}' on {Host}:{Port} to MetaNode schema version {Version}")]
    private static partial void LogMigrationStarting(ILogger logger, string? host, int port, string? database, int version);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug,
        Message = "Holding the migration lock on database '{Database}' after waiting {WaitMilliseconds:F0} ms")]
    private static partial void LogLockAcquired(ILogger logger, string? database, double waitMilliseconds);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Applied {Script} in {ElapsedMilliseconds:F0} ms")]
    private static partial void LogScriptApplied(ILogger logger, string script, double elapsedMilliseconds);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information,
        Message = "Installed MetaNode schema version {Version} in database '{Database}' (previous version {PreviousVersion}; {QueryCount} Orleans queries) in {ElapsedMilliseconds:F0} ms")]
    private static partial void LogSchemaInstalled(ILogger logger, string? database, int version, int previousVersion, int queryCount, double elapsedMilliseconds);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information,
        Message = "MetaNode schema version {Version} was already installed in database '{Database}'; re-applied it ({QueryCount} Orleans queries) in {ElapsedMilliseconds:F0} ms")]
    private static partial void LogSchemaReapplied(ILogger logger, string? database, int version, int queryCount, double elapsedMilliseconds);

    [LoggerMessage(EventId = 6, Level = LogLevel.Error,
        Message = "Database '{Database}' has MetaNode schema version {InstalledVersion}, newer than version {KnownVersion} this silo knows; refusing to migrate. Upgrade the silo or use another database")]
    private static partial void LogSchemaNewerThanBuild(ILogger logger, string? database, int installedVersion, int knownVersion);
}
