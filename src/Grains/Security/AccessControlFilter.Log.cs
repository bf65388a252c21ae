using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Security;

public sealed partial class AccessControlFilter
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused {Method} on '{Target}' to {Identity}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string method, string target, string identity, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "The audit log could not take: {Identity} {Method} '{Target}' {Outcome}")]
    private static partial void LogAuditFailed(ILogger logger, string identity, string method, string target, string outcome, Exception exception);
}
