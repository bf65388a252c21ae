namespace MetaNode.VPods;

/// <summary>A volume mounted into a vPod: a host path or named volume at a path in the workload (the kubernetes runtime refuses both).</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.VPods.VolumeMount")]
public sealed record VolumeMount(
    [property: Id(0)] string Source,
    [property: Id(1)] string Target,
    [property: Id(2)] bool ReadOnly = false);

/// <summary>Persistent storage for a vPod (kubernetes: a PersistentVolumeClaim per replica; docker: a named volume).</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.VPods.StorageRequest")]
public sealed record StorageRequest(
    [property: Id(0)] long SizeBytes,
    [property: Id(1)] string? StorageClass = null,
    [property: Id(2)] string MountPath = "/vpod/data");

/// <summary>
/// Network policy for a vPod: who may connect in, and where it may connect out. Empty lists with
/// <see cref="Enabled"/> deny all; entries are label selectors ("key=value[,key=value]") for ingress and CIDRs or
/// IP addresses, optionally with ":port", for egress (a Kubernetes NetworkPolicy cannot match host names).
/// </summary>
[GenerateSerializer, Immutable, Alias("MetaNode.VPods.NetworkPolicySpec")]
public sealed record NetworkPolicySpec
{
    [Id(0)] public bool Enabled { get; init; } = true;
    [Id(1)] public IReadOnlyList<string> IngressFrom { get; init; } = [];
    [Id(2)] public IReadOnlyList<string> EgressTo { get; init; } = [];
}

/// <summary>What a user asks for when creating a vPod. Sizes are already parsed (see <see cref="ResourceQuantity"/>).</summary>
[GenerateSerializer, Alias("MetaNode.VPods.VPodSpec")]
public sealed record VPodSpec
{
    [Id(0)] public required string Name { get; init; }
    [Id(1)] public VPodType Type { get; init; } = VPodType.Compute;
    [Id(2)] public DeploymentMethod DeploymentMethod { get; init; } = DeploymentMethod.Process;
    /// <summary>Container image (docker, kubernetes). For process vPods: an executable path, or empty for the reference workload.</summary>
    [Id(3)] public string? Image { get; init; }
    /// <summary>Command line; for process vPods the program and its arguments.</summary>
    [Id(4)] public IReadOnlyList<string> Command { get; init; } = [];
    /// <summary>CPU in millicores (1000 = one core).</summary>
    [Id(5)] public long CpuMillis { get; init; } = 1000;
    [Id(6)] public long MemoryBytes { get; init; } = 512L * 1024 * 1024;
    /// <summary>Ports the workload listens on; the first is the workload protocol port.</summary>
    [Id(7)] public IReadOnlyList<int> Ports { get; init; } = [];
    [Id(8)] public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();
    [Id(9)] public IReadOnlyList<VolumeMount> Volumes { get; init; } = [];
    [Id(10)] public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    [Id(11)] public RestartPolicy RestartPolicy { get; init; } = RestartPolicy.OnFailure;
    /// <summary>Names of registry credentials (docker: configured registry auths; kubernetes: Secret names).</summary>
    [Id(12)] public IReadOnlyList<string> ImagePullSecrets { get; init; } = [];
    /// <summary>Workload replicas (kubernetes); other runtimes run one.</summary>
    [Id(13)] public int Replicas { get; init; } = 1;
    /// <summary>Spread replicas (pod anti-affinity and a disruption budget on kubernetes; across silos in a cluster).</summary>
    [Id(14)] public bool HighAvailability { get; init; }
    [Id(15)] public StorageRequest? PersistentStorage { get; init; }
    [Id(16)] public NetworkPolicySpec? NetworkPolicy { get; init; }
    /// <summary>The vPod cluster this vPod belongs to, if any.</summary>
    [Id(17)] public string? Cluster { get; init; }
}
