using MetaNode.VPods;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.VPods;

public sealed partial class VPodGrain
{
    [LoggerMessage(Level = LogLevel.Information, Message = "vPod {VPodId} created: name {Name}, type {Type}, deployment {Method}")]
    private static partial void LogCreated(ILogger logger, string vpodId, string name, VPodType type, DeploymentMethod method);

    [LoggerMessage(Level = LogLevel.Information, Message = "vPod {VPodId} workload started: {Handle}")]
    private static partial void LogLaunched(ILogger logger, string vpodId, string handle);

    [LoggerMessage(Level = LogLevel.Warning, Message = "vPod {VPodId} could not start its workload; the restart policy decides what happens next")]
    private static partial void LogLaunchFailed(ILogger logger, Exception exception, string vpodId);

    [LoggerMessage(Level = LogLevel.Information, Message = "vPod {VPodId} stopped (exit code {ExitCode})")]
    private static partial void LogStopped(ILogger logger, string vpodId, int? exitCode);

    [LoggerMessage(Level = LogLevel.Information, Message = "vPod {VPodId} deleted")]
    private static partial void LogDeleted(ILogger logger, string vpodId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "vPod {VPodId} workload ended ({End}): {Reason}")]
    private static partial void LogWorkloadEnded(ILogger logger, string vpodId, WorkloadEnd end, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "vPod {VPodId} failed {Failures} health probes in a row; stopping it")]
    private static partial void LogUnhealthy(ILogger logger, string vpodId, int failures);

    [LoggerMessage(Level = LogLevel.Information, Message = "vPod {VPodId} will restart in {Delay} (restart policy {Policy})")]
    private static partial void LogRestartScheduled(ILogger logger, string vpodId, TimeSpan delay, RestartPolicy policy);

    [LoggerMessage(Level = LogLevel.Information, Message = "vPod {VPodId} adopted its running workload {Handle}")]
    private static partial void LogAdopted(ILogger logger, string vpodId, string handle);

    [LoggerMessage(Level = LogLevel.Warning, Message = "vPod {VPodId} found its workload {Handle} left behind by another silo; stopping it so it can be started under supervision here")]
    private static partial void LogOrphan(ILogger logger, string vpodId, string handle);

    [LoggerMessage(Level = LogLevel.Information, Message = "vPod {VPodId} workload stopped for silo shutdown; it resumes when the vPod is next activated")]
    private static partial void LogInterrupted(ILogger logger, string vpodId);

    [LoggerMessage(Level = LogLevel.Error, Message = "vPod {VPodId} could not be reconciled in phase {Phase}; it will be tried again on the next call or silo start")]
    private static partial void LogReconcileFailed(ILogger logger, Exception exception, string vpodId, VPodPhase phase);

    [LoggerMessage(Level = LogLevel.Warning, Message = "vPod {VPodId} proved address {Proved}, not its admitted address {Admitted}: it is kept out of jobs and validator sets until an operator admits it ('metanode-cli vpod admit --id {VPodId} --address {Proved}')")]
    private static partial void LogAddressChanged(ILogger logger, string vpodId, string admitted, string proved);

    [LoggerMessage(Level = LogLevel.Warning, Message = "vPod {VPodId}: address {Proved} admitted by an operator (was {Admitted})")]
    private static partial void LogAdmitted(ILogger logger, string vpodId, string admitted, string proved);

    [LoggerMessage(Level = LogLevel.Information, Message = "vPod {VPodId} did not prove its identity: {Reason}")]
    private static partial void LogIdentityFailed(ILogger logger, string vpodId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "vPod {VPodId}: the registry could not be updated; `vpod list` may show an older phase until the next change")]
    private static partial void LogRegistryUpdateFailed(ILogger logger, Exception exception, string vpodId);

    [LoggerMessage(Level = LogLevel.Information, Message = "vPod {VPodId}: {Files} data files ({Bytes} bytes) written into its data directory")]
    private static partial void LogDataWritten(ILogger logger, string vpodId, int files, long bytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "vPod {VPodId}: the placement ledger could not record its size; its reservation keeps what placement saw until the vPod is created again or re-placed")]
    private static partial void LogPlacementNotRecorded(ILogger logger, Exception exception, string vpodId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "vPod {VPodId} is deleted but the placement ledger could not free its reservation; the ledger's pruning frees it")]
    private static partial void LogPlacementNotReleased(ILogger logger, Exception exception, string vpodId);
}
