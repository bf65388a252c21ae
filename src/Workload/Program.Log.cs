/// <summary>The workload's entry point (top-level statements in Program.cs).</summary>
internal partial class Program
{
    [LoggerMessage(1, LogLevel.Information, "vPod {VPodId} workload listening on {Address} as {KeyAddress}, data in {DataDirectory}", EventName = "Started")]
    private static partial void LogStarted(ILogger logger, string vpodId, string address, string keyAddress, string dataDirectory);

    [LoggerMessage(2, LogLevel.Information, "vPod {VPodId} workload stopped", EventName = "Stopped")]
    private static partial void LogStopped(ILogger logger, string vpodId);
}
