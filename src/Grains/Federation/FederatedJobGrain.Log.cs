using MetaNode.Federation;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Federation;

public sealed partial class FederatedJobGrain
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} refused update {EventId}: {Reason}; it is flagged in the round's result")]
    private static partial void LogUpdateRejected(ILogger logger, string jobId, string eventId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} started: {Dataset} over {Compute} compute and {Validators} validator vPods, {Rounds} rounds, quorum {Quorum}")]
    private static partial void LogStarted(ILogger logger, string jobId, string dataset, int compute, int validators, int rounds, int quorum);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} prepared: {Parts} partitions written to the compute vPods' data directories, {TestRows} held-out rows to the validators'")]
    private static partial void LogPrepared(ILogger logger, string jobId, int parts, int testRows);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} round {Round} closed with {Participants} of {Compute} updates")]
    private static partial void LogClosed(ILogger logger, string jobId, int round, int participants, int compute);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} round {Round}: validator vPod {VPodId} did not sign the agreed result {ResultHash}; it is recorded as disagreeing")]
    private static partial void LogDisagreed(ILogger logger, string jobId, int round, string vpodId, string resultHash);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} round {Round}: validator vPod {VPodId} gave no vote; it is recorded as silent")]
    private static partial void LogValidatorSilent(ILogger logger, Exception exception, string jobId, int round, string vpodId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} round {Round} finalized on chain: {Participants} participants, accuracy {Accuracy:F4}, result {ResultHash}, transaction {TxHash}")]
    private static partial void LogConfirmed(ILogger logger, string jobId, int round, int participants, double accuracy, string resultHash, string txHash);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} ended {Phase} in round {Round}: {Reason}")]
    private static partial void LogEnded(ILogger logger, string jobId, FederatedJobPhase phase, int round, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} could not complete step {Phase} of round {Round} (failing for {Seconds:F0} s of at most {LimitSeconds:F0} s); it retries")]
    private static partial void LogStepFailed(ILogger logger, Exception exception, string jobId, FederatedJobPhase phase, int round, double seconds, double limitSeconds);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} ignored update {EventId}: the job is {Phase} in round {Round}")]
    private static partial void LogUpdateIgnored(ILogger logger, string jobId, string eventId, FederatedJobPhase phase, int round);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} round {Round}: compute vPod {VPodId} dropped out at the {Stage} stage of secure aggregation: {Reason}")]
    private static partial void LogSecureDropped(ILogger logger, string jobId, int round, string vpodId, string stage, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: history page {Page} ({Rounds} rounds) could not be stored; the rounds stay in the job's record and move with the next round's")]
    private static partial void LogHistoryNotStored(ILogger logger, Exception exception, string jobId, int page, int rounds);
}
