namespace MetaNode.Silo.Backup;

public sealed partial class SiloBackup
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Backup written to {Path}: {Entries} files, dev chain block {ChainBlock}")]
    private static partial void LogWritten(ILogger logger, string path, int entries, long? chainBlock);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not delete {Path}, left by an earlier backup")]
    private static partial void LogLeftoverKept(ILogger logger, string path, Exception exception);
}
