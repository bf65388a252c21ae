using MetaNode.Chain;
using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.Placement;
using MetaNode.VPods;

namespace MetaNode.Silo.Ui;

/// <summary>
/// What the MetaNode view reads, through the silo's own grain factory: only the read methods a viewer may call
/// (<c>List</c>, <c>GetStatus</c>, <c>GetRound</c>) and the placement ledger's listing. Calls made inside the silo carry its
/// internal token past the access-control filter, so the HTTP check in front of <c>/ui</c> is the gate, and what leaves
/// is only what <see cref="UiViews"/> maps (no spec, no environment).
/// </summary>
public sealed class UiData(IGrainFactory grains)
{
    /// <summary>The longest job id the registry takes (bytes32).</summary>
    public const int MaxJobIdLength = 32;

    public async Task<IReadOnlyList<VPodView>> VPodsAsync(CancellationToken cancellationToken)
    {
        var summaries = await grains.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default).ListAsync(cancellationToken);
        var reservations = await grains.GetGrain<IPlacementLedgerGrain>(PlacementLedgerKeys.Default).ListAsync(null, cancellationToken);
        var silos = reservations.GroupBy(r => r.Request.VPodId).ToDictionary(g => g.Key, g => g.Last().Silo.ToString());
        var rows = await Task.WhenAll(summaries.Select(async summary =>
        {
            try
            {
                var status = await grains.GetGrain<IVPodGrain>(summary.Id).GetStatusAsync(cancellationToken);
                return UiViews.VPod(summary, status, silos.GetValueOrDefault(summary.Id));
            }
            catch (VPodNotFoundException)
            {
                // Deleted since it was listed.
                return null;
            }
        }));
        return UiViews.VPods(rows.OfType<VPodView>());
    }

    public async Task<IReadOnlyList<ClusterView>> ClustersAsync(CancellationToken cancellationToken)
    {
        var summaries = await grains.GetGrain<IVPodClusterRegistryGrain>(ClusterRegistryKeys.Default).ListAsync(cancellationToken);
        var clusters = await Task.WhenAll(summaries.Select(async summary =>
        {
            try
            {
                return UiViews.Cluster(await grains.GetGrain<IVPodClusterGrain>(summary.Name).GetStatusAsync(cancellationToken), summary);
            }
            catch (ClusterNotFoundException)
            {
                return null;
            }
        }));
        return UiViews.Clusters(clusters.OfType<ClusterView>());
    }

    public async Task<IReadOnlyList<JobRowView>> JobsAsync(CancellationToken cancellationToken) =>
        UiViews.Jobs(await grains.GetGrain<IFederatedJobRegistryGrain>(FederatedJobRegistryKeys.Default).ListAsync(cancellationToken));

    /// <exception cref="JobNotFoundException">No job has that id.</exception>
    public async Task<JobView> JobAsync(string jobId, CancellationToken cancellationToken) =>
        UiViews.Job(await grains.GetGrain<IFederatedJobGrain>(jobId).GetStatusAsync(cancellationToken));

    /// <summary>The round as the registry on chain records it, compared with the job's own result when the job has one.</summary>
    /// <exception cref="ChainUnavailableException">No chain is configured, or it cannot be reached.</exception>
    public async Task<RoundRecordView> RoundAsync(string jobId, long round, CancellationToken cancellationToken)
    {
        var record = await grains.GetGrain<IChainGrain>(ChainKeys.Default).GetRoundAsync(jobId, round, cancellationToken);
        MetaNode.Federation.RoundResult? jobRound = null;
        try
        {
            var status = await grains.GetGrain<IFederatedJobGrain>(jobId).GetStatusAsync(cancellationToken);
            jobRound = status.Results.FirstOrDefault(r => r.Round == round);
        }
        catch (JobNotFoundException)
        {
            // A round on chain whose job this cluster does not know (another cluster's, or a round finalized by hand).
        }

        return UiViews.Record(record, jobRound);
    }

    /// <summary>Why a job id is refused before any grain is asked, or null when it may be asked for.</summary>
    public static string? CheckJobId(string? jobId) =>
        string.IsNullOrWhiteSpace(jobId) || jobId.Length > MaxJobIdLength || jobId.Any(c => char.IsControl(c) || c == '/')
            ? $"invalid job id '{jobId}': use the id 'job run' printed (at most {MaxJobIdLength} characters)."
            : null;
}
