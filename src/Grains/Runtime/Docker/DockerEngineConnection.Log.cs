using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Docker;

internal sealed partial class DockerEngineConnection
{
    [LoggerMessage(EventId = 1110, Level = LogLevel.Warning, Message = "The Docker Engine at {Endpoint} is not reachable; start dockerd or fix MetaNode:Runtime:Docker:Endpoint (or DOCKER_HOST)")]
    private static partial void LogEngineUnreachable(ILogger logger, Exception exception, string endpoint);
}
