using MetaNode.Clusters;

namespace MetaNode.Tests.Cli;

/// <summary>The cluster half of the fake client: records the last deployed spec and serves canned statuses.</summary>
internal sealed partial class FakeMetaNodeClient
{
    public Dictionary<string, ClusterStatus> Clusters { get; } = new(StringComparer.Ordinal);

    public ClusterSpec? DeployedCluster { get; private set; }

    public (string Name, int Count)? LastScale { get; private set; }

    public Task<ClusterStatus> DeployClusterAsync(ClusterSpec spec, CancellationToken cancellationToken = default)
    {
        DeployedCluster = spec;
        var status = new ClusterStatus { Name = spec.Name, Phase = ClusterPhase.Deploying, Spec = spec, Desired = spec.Count, Leader = "vpod-" + spec.Name + "-0", Term = 1 };
        Clusters[spec.Name] = status;
        return Task.FromResult(status);
    }

    public Task<ClusterStatus> ScaleClusterAsync(string name, int count, CancellationToken cancellationToken = default)
    {
        LastScale = (name, count);
        return Task.FromResult(GetCluster(name) with { Desired = count });
    }

    public Task<ClusterStatus> GetClusterStatusAsync(string name, CancellationToken cancellationToken = default) => Task.FromResult(GetCluster(name));

    public Task<IReadOnlyList<ClusterSummary>> ListClustersAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<ClusterSummary>>(Clusters.Values.Select(c => new ClusterSummary { Name = c.Name, Desired = c.Desired, Phase = c.Phase }).ToList());

    public Task<ClusterStatus> DeleteClusterAsync(string name, CancellationToken cancellationToken = default)
    {
        var status = GetCluster(name);
        Clusters.Remove(name);
        return Task.FromResult(status with { Phase = ClusterPhase.Deleted });
    }

    public Task<ClusterStatus> ReconcileClusterAsync(string name, LeaderCommand command, CancellationToken cancellationToken = default)
    {
        var status = GetCluster(name);
        return command.Term < status.Term
            ? throw new StaleLeaderTermException($"cluster {name}", command.Term, status.Term)
            : Task.FromResult(status);
    }

    private ClusterStatus GetCluster(string name) => Clusters.TryGetValue(name, out var status) ? status : throw new ClusterNotFoundException(name);
}
