using MetaNode.VPods;

namespace MetaNode.Clusters;

/// <summary>How a cluster's federated computation aggregates member updates.</summary>
[GenerateSerializer, Alias("MetaNode.Clusters.AggregationAlgorithm")]
public enum AggregationAlgorithm
{
    None = 0,
    FederatedAverage = 1,
    SecureAggregation = 2,
}

/// <summary>Upper bounds on what a cluster's members may request together; null means no bound.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Clusters.ClusterQuota")]
public sealed record ClusterQuota
{
    [Id(0)] public long? CpuMillis { get; init; }
    [Id(1)] public long? MemoryBytes { get; init; }
    [Id(2)] public int? MaxMembers { get; init; }
}

/// <summary>
/// The seed's <c>deploy_vpod_cluster(count, vpod_type, deployment_options)</c>: how many members of which type, and how
/// each member runs. Sizes are already parsed (see <see cref="ResourceQuantity"/>).
/// </summary>
[GenerateSerializer, Alias("MetaNode.Clusters.ClusterSpec")]
public sealed record ClusterSpec
{
    [Id(0)] public required string Name { get; init; }
    [Id(1)] public int Count { get; init; } = 1;
    [Id(2)] public VPodType MemberType { get; init; } = VPodType.Compute;
    [Id(3)] public DeploymentMethod DeploymentMethod { get; init; } = DeploymentMethod.Process;
    [Id(4)] public string? Image { get; init; }
    [Id(5)] public IReadOnlyList<string> Command { get; init; } = [];
    [Id(6)] public long CpuMillis { get; init; } = 500;
    [Id(7)] public long MemoryBytes { get; init; } = 256L * 1024 * 1024;
    [Id(8)] public int Replicas { get; init; } = 1;
    [Id(9)] public bool HighAvailability { get; init; }
    [Id(10)] public StorageRequest? PersistentStorage { get; init; }
    [Id(11)] public NetworkPolicySpec? NetworkPolicy { get; init; }
    [Id(12)] public AggregationAlgorithm Algorithm { get; init; } = AggregationAlgorithm.FederatedAverage;
    /// <summary>Secure aggregation: how many of the members must take part to unmask a round (t of n).</summary>
    [Id(13)] public int? SecurityThreshold { get; init; }
    [Id(14)] public bool EncryptionEnabled { get; init; }
    [Id(15)] public RestartPolicy RestartPolicy { get; init; } = RestartPolicy.OnFailure;
    [Id(16)] public ClusterQuota? Quota { get; init; }
    [Id(17)] public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();
    /// <summary>Ports every member's workload listens on, the first being the workload port; 0 assigns each member a free loopback port (process).</summary>
    [Id(18)] public IReadOnlyList<int> Ports { get; init; } = [];
    /// <summary>Storage clusters: on how many members each block is kept (null: <see cref="ClusterSpecValidation.DefaultReplication"/>, or the member count if smaller).</summary>
    [Id(19)] public int? Replication { get; init; }
}
