using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Orchestration;

public sealed partial class OrchestratorKeeper
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not start the local orchestrator agents; retrying every renewal period")]
    private static partial void LogKeepFailed(ILogger logger, Exception exception);
}
