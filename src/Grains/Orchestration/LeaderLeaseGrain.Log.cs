using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Orchestration;

public sealed partial class LeaderLeaseGrain
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Leader of {Scope} is now {Leader} with term {Term} ({Reason})")]
    private static partial void LogAcquired(ILogger logger, string scope, string leader, long term, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Leader {Leader} of {Scope} gave up term {Term} ({Reason}); the next candidate takes over")]
    private static partial void LogReleased(ILogger logger, string scope, string leader, long term, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Leader change of {Scope} (term {Term}) was recorded but not published on the stream")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string scope, long term);
}
