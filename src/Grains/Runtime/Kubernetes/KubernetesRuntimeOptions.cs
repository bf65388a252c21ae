namespace MetaNode.Grains.Runtime.Kubernetes;

/// <summary>How the <c>kubernetes</c> runtime reaches the API server.</summary>
public enum KubernetesConnection
{
    /// <summary><see cref="KubernetesRuntimeOptions.BaseUrl"/> when set, else <see cref="KubernetesRuntimeOptions.KubeConfigPath"/> when set, else the pod's service account when the silo runs in a cluster.</summary>
    Auto = 0,
    /// <summary>The pod's service account (token and CA under <c>/var/run/secrets/kubernetes.io/serviceaccount</c>, <c>KUBERNETES_SERVICE_HOST</c>).</summary>
    InCluster = 1,
    /// <summary>A kubeconfig file: <see cref="KubernetesRuntimeOptions.KubeConfigPath"/>, else <c>KUBECONFIG</c> or <c>~/.kube/config</c>.</summary>
    KubeConfig = 2,
    /// <summary>An explicit API server URL (<see cref="KubernetesRuntimeOptions.BaseUrl"/>), e.g. <c>kubectl proxy</c> on loopback.</summary>
    BaseUrl = 3,
}

/// <summary>Whether the replicas of a high-availability vPod must, or should, run on different nodes.</summary>
public enum AntiAffinityMode
{
    Preferred = 0,
    Required = 1,
}

/// <summary>What happens to the pods (and ReplicaSets) of a deleted vPod workload.</summary>
public enum DeletePropagation
{
    /// <summary>The workload object goes at once; the garbage collector removes its pods afterwards.</summary>
    Background = 0,
    /// <summary>The workload object stays (with a deletion timestamp) until its pods are gone.</summary>
    Foreground = 1,
}

/// <summary>Configuration of the <c>kubernetes</c> runtime driver (section <c>MetaNode:Runtime:Kubernetes</c>).</summary>
public sealed class KubernetesRuntimeOptions
{
    public const string SectionName = "MetaNode:Runtime:Kubernetes";

    public KubernetesConnection Connection { get; set; } = KubernetesConnection.Auto;

    /// <summary>API server URL for <see cref="KubernetesConnection.BaseUrl"/> (and <see cref="KubernetesConnection.Auto"/> when set).</summary>
    public string? BaseUrl { get; set; }

    /// <summary>Kubeconfig file for <see cref="KubernetesConnection.KubeConfig"/> (and <see cref="KubernetesConnection.Auto"/> when set).</summary>
    public string? KubeConfigPath { get; set; }

    /// <summary>Kubeconfig context; empty means the file's current context.</summary>
    public string? KubeConfigContext { get; set; }

    /// <summary>
    /// Namespace of the vPod objects, never the silos' own (<see cref="SiloNamespace"/>): the runtime refuses to run vPods there.
    /// Empty means the silos' namespace with <c>-vpods</c> appended (<see cref="KubernetesNames.VPodNamespaceFor"/>).
    /// </summary>
    public string? Namespace { get; set; }

    /// <summary>
    /// Namespace of the silo pods, which a vPod's NetworkPolicy admits on the vPod's ports (with <see cref="SiloSelector"/>); empty
    /// means the connection's namespace (the pod's own in a cluster, the context's in a kubeconfig), else <c>default</c>.
    /// </summary>
    public string? SiloNamespace { get; set; }

    /// <summary>Prefix of the labels that identify vPod objects: <c>{LabelPrefix}/vpod-id</c>, <c>{LabelPrefix}/cluster</c>, ...</summary>
    public string LabelPrefix { get; set; } = "metanode.io";

    /// <summary>Storage class of persistent-storage claims when the spec names none, and of every key claim; empty means the cluster's default class.</summary>
    public string? DefaultStorageClass { get; set; }

    /// <summary>Pod anti-affinity of high-availability vPods.</summary>
    public AntiAffinityMode AntiAffinity { get; set; } = AntiAffinityMode.Preferred;

    /// <summary>Node label that anti-affinity spreads replicas across.</summary>
    public string TopologyKey { get; set; } = "kubernetes.io/hostname";

    public DeletePropagation DeletePropagation { get; set; } = DeletePropagation.Background;

    /// <summary>Whether deleting a vPod also deletes its claims: those of its persistent storage (its data) and its key claims (its workload's key).</summary>
    public bool DeletePersistentVolumeClaims { get; set; } = true;

    /// <summary>
    /// Label selector (<c>key=value[,key=value]</c>) of the silo pods in <see cref="SiloNamespace"/>. A vPod's NetworkPolicy always
    /// admits them on the vPod's ports, so the silos' health probes reach the workload. Empty admits no one but the spec's selectors.
    /// Its keys are reserved (<see cref="MetaNode.VPods.VPodLabels"/>): no vPod can carry them.
    /// </summary>
    public string SiloSelector { get; set; } = DefaultSiloSelector;

    public const string DefaultSiloSelector = "app.kubernetes.io/component=silo,app.kubernetes.io/part-of=metanode";

    /// <summary>The user, group and fsGroup every vPod pod runs as (never root: the pods run under the <c>restricted</c> Pod Security Standard).</summary>
    public long RunAsUser { get; set; } = 65532;

    /// <summary>Grace a pod gets between SIGTERM and SIGKILL when it is deleted by Kubernetes itself (scale-down, eviction).</summary>
    public int TerminationGracePeriodSeconds { get; set; } = 30;

    /// <summary>How long a watch request stays open before it is renewed from the last resource version.</summary>
    public TimeSpan WatchTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a status read waits for the pod cache's first list before it asks the API server directly.</summary>
    public TimeSpan SyncTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Delay before a failed list or watch is retried.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(2);
}
