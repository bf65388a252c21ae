namespace MetaNode.Workload;

public static partial class WorkloadApp
{
    [LoggerMessage(3, LogLevel.Information, "vPod {VPodId} key {Address} {Action} in {KeyDirectory}", EventName = "Key")]
    private static partial void LogKey(ILogger logger, string vpodId, string address, string action, string keyDirectory);
}
