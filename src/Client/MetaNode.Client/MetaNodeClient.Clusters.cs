using MetaNode.Clusters;

namespace MetaNode.Client;

public sealed partial class MetaNodeClient
{
    public Task<ClusterStatus> DeployClusterAsync(ClusterSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return Cluster(spec.Name).DeployAsync(spec, cancellationToken);
    }

    public Task<ClusterStatus> ScaleClusterAsync(string name, int count, CancellationToken cancellationToken = default) =>
        Cluster(name).ScaleAsync(count, cancellationToken);

    public Task<ClusterStatus> GetClusterStatusAsync(string name, CancellationToken cancellationToken = default) =>
        Cluster(name).GetStatusAsync(cancellationToken);

    // Each cluster reports its phase and desired count to the registry whenever they change: one call lists them all.
    public Task<IReadOnlyList<ClusterSummary>> ListClustersAsync(CancellationToken cancellationToken = default) =>
        _grainFactory.GetGrain<IVPodClusterRegistryGrain>(ClusterRegistryKeys.Default).ListAsync(cancellationToken);

    public Task<ClusterStatus> DeleteClusterAsync(string name, CancellationToken cancellationToken = default) =>
        Cluster(name).DeleteAsync(cancellationToken);

    public Task<ClusterStatus> ReconcileClusterAsync(string name, LeaderCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        return Cluster(name).ReconcileAsync(command, cancellationToken);
    }

    private IVPodClusterGrain Cluster(string name)
    {
        if (!ClusterSpecValidation.IsValidName(name))
        {
            throw new ArgumentException($"Invalid cluster name '{name}': use 1-{ClusterSpecValidation.MaxNameLength} lower-case letters, digits or '-', starting and ending with a letter or digit.", nameof(name));
        }

        return _grainFactory.GetGrain<IVPodClusterGrain>(name);
    }
}
