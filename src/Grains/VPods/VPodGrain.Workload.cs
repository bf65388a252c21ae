using System.Runtime.CompilerServices;
using MetaNode.Chain;
using MetaNode.VPods;

namespace MetaNode.Grains.VPods;

// The running workload: its resource and chain usage, its logs, and the data files written into it.
public sealed partial class VPodGrain
{
    public async Task<VPodMetrics> GetMetricsAsync(CancellationToken cancellationToken = default)
    {
        EnsureExists();
        var usage = State.Handle is { } handle && VPodStateMachine.HasWorkload(State.Phase)
            ? await Runtime.GetUsageAsync(Id, handle, Spec, cancellationToken)
            : null;
        return new VPodMetrics
        {
            Id = Id,
            Phase = State.Phase,
            Resources = new ResourceUsage(usage?.CpuPercent ?? 0, usage?.MemoryBytes ?? 0, usage?.MemoryLimitBytes ?? Spec.MemoryBytes),
            Network = new NetworkUsage(usage?.NetworkRxBytes ?? 0, usage?.NetworkTxBytes ?? 0),
            Blockchain = State.Address is { } address
                ? await GrainFactory.GetGrain<IChainAccountGrain>(address).GetUsageAsync(cancellationToken)
                : new BlockchainUsage { LastBlockSeen = chain.LastBlockSeen },
            CollectedAt = time.GetUtcNow(),
        };
    }

    public Task<IReadOnlyList<LogLine>> GetLogsAsync(LogQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        EnsureExists();
        EnsureLogsAvailable();
        return Runtime.ReadLogsAsync(Id, State.Handle, LogQueries.Bounded(query), cancellationToken);
    }

    public async IAsyncEnumerable<LogLine> FollowLogsAsync(LogQuery query, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        EnsureExists();
        EnsureLogsAvailable();
        await foreach (var line in Runtime.FollowLogsAsync(Id, State.Handle, LogQueries.Bounded(query), cancellationToken))
        {
            yield return line;
        }
    }

    public async Task WriteDataAsync(VPodDataFiles files, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        EnsureExists();
        VPodDataValidation.ThrowIfInvalid(Id, files);
        if (!VPodStateMachine.HoldsData(State.Phase))
        {
            throw new InvalidVPodOperationException(Id, State.Phase, $"vPod '{Id}' cannot receive data files while {State.Phase}: it has no workload to hold them{(State.Phase is VPodPhase.Deleting or VPodPhase.Deleted ? string.Empty : "; retry once it is started")}.");
        }

        await Runtime.WriteDataFilesAsync(Id, Spec, State.Handle, files, cancellationToken);
        LogDataWritten(logger, Id, files.Files.Count, files.TotalBytes);
    }

    private void EnsureLogsAvailable()
    {
        if (State.Phase == VPodPhase.Deleted)
        {
            throw new InvalidVPodOperationException(Id, VPodTrigger.None, State.Phase);
        }
    }
}
