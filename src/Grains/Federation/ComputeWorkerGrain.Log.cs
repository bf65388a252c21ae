using MetaNode.VPods;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Federation;

public sealed partial class ComputeWorkerGrain
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Compute vPod {VPodId} trained job {JobId} round {Round} on {Samples} samples in {Milliseconds:F0} ms and published the update its workload signed")]
    private static partial void LogTrained(ILogger logger, string vpodId, string jobId, int round, long samples, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Compute vPod {VPodId} job {JobId} round {Round}: its workload's update is refused and not published: {Problem}")]
    private static partial void LogWrongShape(ILogger logger, string vpodId, string jobId, int round, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "Compute vPod {VPodId} has nothing to train for job {JobId} round {Round}: the job is not training that round with it")]
    private static partial void LogNoAssignment(ILogger logger, string vpodId, string jobId, int round);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Compute vPod {VPodId} is {Phase}, not running: it skips job {JobId} round {Round}; the round closes at its deadline without it")]
    private static partial void LogNotRunning(ILogger logger, string vpodId, string jobId, int round, VPodPhase phase);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Compute vPod {VPodId} could not train job {JobId} round {Round}; the round closes at its deadline without it. Check the vPod's logs ('metanode-cli vpod logs')")]
    private static partial void LogTrainingFailed(ILogger logger, Exception exception, string vpodId, string jobId, int round);
}
