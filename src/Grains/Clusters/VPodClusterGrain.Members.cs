using MetaNode.Clusters;
using MetaNode.Placement;
using MetaNode.VPods;

namespace MetaNode.Grains.Clusters;

/// <summary>The cluster's calls to its members' vPods: validate, create, start, observe and delete them.</summary>
public sealed partial class VPodClusterGrain
{
    private const int MaxParallelCalls = 8;

    /// <summary>Refuses a spec whose members this silo's runtime could not run, before the cluster is recorded.</summary>
    private void ValidateMembersForRuntime(ClusterSpec spec)
    {
        // Port 0 asks each member's grain for a free port when it is created: not a port to check here.
        var template = ClusterSpecValidation.MemberSpec(spec, 0);
        var member = template with { Ports = template.Ports.Where(static p => p != 0).ToArray() };
        try
        {
            runtimes.Resolve(member.DeploymentMethod).ValidateSpec($"{Name}-0", member);
        }
        catch (InvalidVPodSpecException ex)
        {
            throw new InvalidClusterSpecException($"Invalid cluster spec: member {ex.Message}");
        }
    }

    private async Task CreateMembersAsync(ClusterSpec spec, List<ClusterMemberRecord> records, CancellationToken cancellationToken)
    {
        if (records.Count == 0)
        {
            return;
        }

        var requests = records.Select(r => Request(spec, r.Ordinal)).ToList();
        var fit = await Ledger.CheckFitAsync(requests, cancellationToken);
        await ForEachAsync(Enumerable.Range(0, records.Count).ToList(), async (i, ct) =>
        {
            var record = records[i];
            if (fit[i] is { } reason)
            {
                record.PendingReason = reason;
                LogMemberPending(logger, Name, requests[i].VPodId, reason);
                return;
            }

            try
            {
                RequestContext.Set(PlacementLedgerKeys.RequestContextKey, requests[i]);
                var created = await GrainFactory.GetGrain<IVPodGrain>(requests[i].VPodId).CreateAsync(ClusterSpecValidation.MemberSpec(spec, record.Ordinal), ct);
                record.Created = true;
                Observed(record.Ordinal, created);
                record.PendingReason = null;
            }
            catch (Exception exception) when (exception is InvalidVPodSpecException or InvalidVPodOperationException)
            {
                record.PendingReason = exception.Message;
                LogMemberPending(logger, Name, requests[i].VPodId, exception.Message);
            }
            finally
            {
                RequestContext.Remove(PlacementLedgerKeys.RequestContextKey);
            }
        }, cancellationToken);
    }

    private async Task DeleteMemberAsync(int ordinal, CancellationToken cancellationToken)
    {
        var id = ClusterSpecValidation.MemberId(Name, ordinal);
        try
        {
            await GrainFactory.GetGrain<IVPodGrain>(id).DeleteAsync(new StopOptions(Force: true), cancellationToken);
        }
        catch (Exception exception) when (exception is VPodNotFoundException or InvalidVPodOperationException)
        {
            // Already deleted or being deleted.
        }

        await Ledger.ReleaseAsync(id, cancellationToken);
        LogMemberDeleted(logger, Name, id);
    }

    private async Task StartMemberAsync(int ordinal, string reason, CancellationToken cancellationToken)
    {
        var id = ClusterSpecValidation.MemberId(Name, ordinal);
        try
        {
            Observed(ordinal, await GrainFactory.GetGrain<IVPodGrain>(id).StartAsync(cancellationToken));
            LogMemberRestarted(logger, Name, id, reason);
        }
        catch (InvalidVPodOperationException exception)
        {
            LogMemberPending(logger, Name, id, exception.Message);
        }
    }

    private static PlacementRequest Request(ClusterSpec spec, int ordinal) =>
        PlacementRequest.For(ClusterSpecValidation.MemberId(spec.Name, ordinal), ClusterSpecValidation.MemberSpec(spec, ordinal));

    /// <summary>Asks member <paramref name="ordinal"/> for its status (activating it re-places it when its silo died); null when its vPod does not exist.</summary>
    private async Task<VPodStatus?> ObserveMemberAsync(int ordinal, CancellationToken cancellationToken)
    {
        try
        {
            var status = await GrainFactory.GetGrain<IVPodGrain>(ClusterSpecValidation.MemberId(Name, ordinal)).GetStatusAsync(cancellationToken);
            Observed(ordinal, status);
            return status;
        }
        catch (VPodNotFoundException)
        {
            Observed(ordinal, null);
            return null;
        }
    }

    private static Task ForEachAsync<T>(IReadOnlyList<T> items, Func<T, CancellationToken, Task> body, CancellationToken cancellationToken)
    {
        if (items.Count == 0)
        {
            return Task.CompletedTask;
        }

        // Parallel.ForEachAsync keeps the grain's scheduler: its bodies run as turns of this activation.
        return Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = MaxParallelCalls, CancellationToken = cancellationToken, TaskScheduler = TaskScheduler.Current }, async (item, ct) => await body(item, ct));
    }
}
