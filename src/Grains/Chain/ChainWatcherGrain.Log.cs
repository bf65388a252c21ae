using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Chain;

public sealed partial class ChainWatcherGrain
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Chain watcher could not poll the registry's logs after block {Checkpoint}; it retries on the next tick")]
    private static partial void LogPollFailed(ILogger logger, Exception exception, long checkpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Chain watcher: block {Checkpoint} changed (a reorg deeper than the confirmation depth); rewinding to {Rewound} and republishing")]
    private static partial void LogReorg(ILogger logger, long checkpoint, long rewound);

    [LoggerMessage(Level = LogLevel.Information, Message = "Chain watcher: the chain changed while blocks {From}-{To} were read; nothing of them was published, the next poll looks for the fork point")]
    private static partial void LogRangeChanged(ILogger logger, long from, long to);
}

public sealed partial class ChainWatcherStarter
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "The chain watcher could not be started; registry events are not streamed until a silo starts it")]
    private static partial void LogStartFailed(ILogger logger, Exception exception);
}
