using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Kubernetes;

public sealed partial class KubernetesRuntime
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Kubernetes runtime connected to {Host}; vPod objects go to namespace {Namespace}, the silos run in {SiloNamespace}")]
    private static partial void LogConnected(ILogger logger, string host, string @namespace, string siloNamespace);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Provisioned vPod {VPodId}: {Kind} {Namespace}/{Name} and its Service, NetworkPolicy and disruption budget as its spec asks")]
    private static partial void LogProvisioned(ILogger logger, string vpodId, KubernetesWorkloadKind kind, string @namespace, string name);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Started vPod {VPodId}: scaled {Kind} {Namespace}/{Name} to {Replicas} replicas")]
    private static partial void LogScaled(ILogger logger, string vpodId, KubernetesWorkloadKind kind, string @namespace, string name, int replicas);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "Stopped vPod {VPodId}: scaled {Kind} {Namespace}/{Name} to zero and deleted {Pods} pods with a grace of {GraceSeconds}s")]
    private static partial void LogStopped(ILogger logger, string vpodId, KubernetesWorkloadKind kind, string @namespace, string name, int pods, int graceSeconds);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Information, Message = "Removed vPod {VPodId}: deleted the objects named {Namespace}/{Name} (propagation {Propagation})")]
    private static partial void LogRemoved(ILogger logger, string vpodId, string @namespace, string name, DeletePropagation propagation);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Debug, Message = "No usage for vPod {VPodId}: the metrics API of namespace {Namespace} answered {StatusCode} (install metrics-server for vPod metrics)")]
    private static partial void LogMetricsUnavailable(ILogger logger, string vpodId, string @namespace, int statusCode);
}
