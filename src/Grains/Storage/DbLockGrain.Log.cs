using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Storage;

public sealed partial class DbLockGrain
{
    [LoggerMessage(Level = LogLevel.Information, Message = "db.lock: '{Name}' bound to {Cid} by {By}")]
    private static partial void LogLocked(ILogger logger, string name, string cid, string by);
}
