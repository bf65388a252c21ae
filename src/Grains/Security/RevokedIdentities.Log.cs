using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Security;

public sealed partial class RevokedIdentities
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the revoked identities failed (the last list stays in force): {Reason}")]
    private static partial void LogRefreshFailed(ILogger logger, string reason);
}
