namespace MetaNode.Workload.Federation;

public sealed partial class RoundValidation
{
    [LoggerMessage(20, LogLevel.Information, "vPod {VPodId} signed job {Job} round {Round} on registry {Registry} (chain {ChainId}): result {ResultHash}, {Participants} participants, {Rejected} rejected", EventName = "SignedRound")]
    private static partial void LogSignedRound(ILogger logger, string vpodId, string job, int round, string registry, long chainId, string resultHash, int participants, int rejected);

    [LoggerMessage(21, LogLevel.Warning, "vPod {VPodId} refused to sign job {Job} round {Round} on registry {Registry}: it signed digest {SignedDigest} for that round, and this request computes {Digest}. A validator signs one result per round; check why the round's updates differ between requests", EventName = "RefusedEquivocation")]
    private static partial void LogRefusedEquivocation(ILogger logger, string vpodId, string job, int round, string registry, string signedDigest, string digest);
}
