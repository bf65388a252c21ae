using MetaNode.VPods;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Clusters;

public sealed partial class VPodClusterGrain
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster {Cluster} deployed: {Count} {Type} members")]
    private static partial void LogDeployed(ILogger logger, string cluster, int count, VPodType type);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster {Cluster} scaled from {From} to {To} members")]
    private static partial void LogScaled(ILogger logger, string cluster, int from, int to);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster {Cluster} deleted with its members")]
    private static partial void LogDeleted(ILogger logger, string cluster);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster {Cluster} accepts leader {Leader} with term {Term} (was {PreviousLeader}, term {PreviousTerm})")]
    private static partial void LogLeaderAccepted(ILogger logger, string cluster, string leader, long term, string? previousLeader, long previousTerm);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cluster {Cluster} rejected a command from {Leader} with stale term {Term}; term {CurrentTerm} is current")]
    private static partial void LogStaleCommand(ILogger logger, string cluster, string leader, long term, long currentTerm);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cluster {Cluster}: member {VPodId} is pending: {Reason}")]
    private static partial void LogMemberPending(ILogger logger, string cluster, string vpodId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster {Cluster}: member {VPodId} deleted")]
    private static partial void LogMemberDeleted(ILogger logger, string cluster, string vpodId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster {Cluster}: member {VPodId} started again ({Reason})")]
    private static partial void LogMemberRestarted(ILogger logger, string cluster, string vpodId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cluster {Cluster} rejected a command from {Leader} with term {Term}: the lease (term {LeaseTerm}) never issued it")]
    private static partial void LogUnissuedTerm(ILogger logger, string cluster, string leader, long term, long leaseTerm);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cluster {Cluster}: member {VPodId} is replaced ({Reason})")]
    private static partial void LogMemberForgotten(ILogger logger, string cluster, string vpodId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cluster {Cluster} could not report its summary to the cluster registry; it reports again at its next change")]
    private static partial void LogReportFailed(ILogger logger, Exception exception, string cluster);
}
