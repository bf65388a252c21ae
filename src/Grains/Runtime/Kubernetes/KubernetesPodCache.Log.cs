using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Kubernetes;

internal sealed partial class KubernetesPodCache
{
    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Listing or watching the vPod pods in namespace {Namespace} failed; retrying in {Delay}. Check that the silo's service account may list and watch pods there")]
    private static partial void LogWatchFailed(ILogger logger, string @namespace, TimeSpan delay, Exception exception);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "The pod watch in namespace {Namespace} reported an error")]
    private static partial void LogWatchEventError(ILogger logger, string @namespace, Exception exception);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Information, Message = "The pod watch in namespace {Namespace} expired at resource version {ResourceVersion} (410 Gone); listing again")]
    private static partial void LogResourceVersionExpired(ILogger logger, string @namespace, string? resourceVersion);
}
