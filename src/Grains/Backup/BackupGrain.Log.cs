using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Backup;

public sealed partial class BackupGrain
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Backup {BackupId} taken: {Bytes} bytes, {Entries} files, dev chain block {ChainBlock}")]
    private static partial void LogCreated(ILogger logger, string backupId, long bytes, int entries, long? chainBlock);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backup {BackupId} was not read for a while; deleted {Path}")]
    private static partial void LogExpired(ILogger logger, string backupId, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not delete the backup file {Path}")]
    private static partial void LogDeleteFailed(ILogger logger, string path, Exception exception);
}
