using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Federation;

public sealed partial class ValidatorWorkerGrain
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Validator vPod {VPodId}'s workload signed job {JobId} round {Round}: {Participants} updates aggregated ({Fetched} fetched from the job, missed on the stream), result {ResultHash}")]
    private static partial void LogSigned(ILogger logger, string vpodId, string jobId, int round, int participants, int fetched, string resultHash);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Validator vPod {VPodId} ignored update {EventId}: the same copy was already received")]
    private static partial void LogDuplicate(ILogger logger, string vpodId, string eventId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Validator vPod {VPodId} ignored a copy of update {EventId}: it already holds {Max} different copies from that vPod for the round")]
    private static partial void LogTooManyCopies(ILogger logger, string vpodId, string eventId, int max);
}
