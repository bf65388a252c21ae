// Longer than 400 lines: one pure builder per object kind a vPod becomes (workload, Service, NetworkPolicy, PodDisruptionBudget), kept together so their shared labels agree.
using System.Globalization;
using k8s.Models;
using MetaNode.VPods;
using K8sQuantity = k8s.Models.ResourceQuantity;
using Quantity = MetaNode.VPods.ResourceQuantity;

namespace MetaNode.Grains.Runtime.Kubernetes;

/// <summary>The kind of object that runs a vPod's pods.</summary>
public enum KubernetesWorkloadKind
{
    None = 0,
    Deployment = 1,
    /// <summary>Used when the spec asks for persistent storage: data and key claims per replica from volumeClaimTemplates.</summary>
    StatefulSet = 2,
}

/// <summary>
/// Every object of one vPod, as the builder made them from its spec. <paramref name="KeyClaim"/> is the vPod's own key claim when
/// it runs as a Deployment (a StatefulSet has its key claims in its volumeClaimTemplates instead).
/// </summary>
public sealed record KubernetesWorkload(
    string Name,
    string Namespace,
    KubernetesWorkloadKind Kind,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyDictionary<string, string> Selector,
    V1Deployment? Deployment,
    V1StatefulSet? StatefulSet,
    V1Service? Service,
    V1NetworkPolicy? NetworkPolicy,
    V1PodDisruptionBudget? DisruptionBudget,
    V1PersistentVolumeClaim? KeyClaim);

/// <summary>
/// Turns a vPod spec into Kubernetes objects: a Deployment (a StatefulSet when persistent storage is asked for), a Service for its
/// ports, a NetworkPolicy when the spec has one, a PodDisruptionBudget and pod anti-affinity for high availability. Pure: the same
/// input gives the same objects, so creating them again is idempotent. Bad input throws <see cref="InvalidVPodSpecException"/>
/// naming the field.
/// <para>
/// Every pod runs under the <c>restricted</c> Pod Security Standard (<see cref="PodSecurity"/>, <see cref="ContainerSecurity"/>)
/// and carries the vPod's name in a label of its own (<see cref="VPodNameLabel"/>): never a label the silos or PostgreSQL are
/// selected by. The spec's volumes are refused (<see cref="ThrowIfForeignVolumes"/>): no host path, no claim the vPod does not own.
/// </para>
/// <para>
/// Every workload gets a key volume for its own signing key: a small ReadWriteOnce claim (<see cref="KeyClaimSize"/>) mounted at
/// <c>/vpod/key</c> and named in <c>METANODE_KEY_DIR</c>, which outlives the pods. A StatefulSet has it as the <c>key</c>
/// volumeClaimTemplate (one claim per replica, <c>key-{name}-{ordinal}</c>, made by the StatefulSet controller); a Deployment mounts
/// the standalone claim <c>{name}-key</c>, which the runtime creates with the Deployment and which every pod of the vPod shares.
/// Both carry the vPod's labels, so removing the vPod removes them with its other claims.
/// </para>
/// </summary>
public static class KubernetesWorkloadBuilder
{
    public const string ContainerName = "workload";
    public const string DataVolumeName = "data";
    public const string DefaultDataPath = "/vpod/data";
    public const string KeyVolumeName = "key";
    public const string KeyPath = WorkloadKeyDirectory.ContainerPath;

    /// <summary>The storage a key claim requests: a key file, with room to spare.</summary>
    public const string KeyClaimSize = "16Mi";

    /// <summary>The standalone key claim of a vPod that runs as a Deployment.</summary>
    public static string KeyClaimName(string objectName) => objectName + "-" + KeyVolumeName;

    public static string VPodIdLabel(KubernetesRuntimeOptions options) => $"{options.LabelPrefix}/vpod-id";

    public static string ClusterLabel(KubernetesRuntimeOptions options) => $"{options.LabelPrefix}/cluster";

    /// <summary>The label that carries the vPod's name (never <c>app.kubernetes.io/name</c>, which other workloads may be selected by).</summary>
    public static string VPodNameLabel(KubernetesRuntimeOptions options) => $"{options.LabelPrefix}/vpod-name";

    public const string ComponentLabel = "app.kubernetes.io/component";

    /// <summary>The value of <see cref="ComponentLabel"/> on every vPod object.</summary>
    public const string VPodComponent = "vpod";

    public const string TmpVolumeName = "tmp";
    public const string TmpPath = "/tmp";

    /// <summary>
    /// Throws <see cref="InvalidVPodSpecException"/> for everything <see cref="Build"/> would refuse; makes no request. The grain
    /// calls it (through <see cref="KubernetesRuntime.ValidateSpec"/>) at create, before it records anything.
    /// </summary>
    public static void Validate(string vpodId, VPodSpec spec, KubernetesRuntimeOptions options) =>
        _ = Build(vpodId, spec, options, string.IsNullOrWhiteSpace(options.Namespace) ? "default" : options.Namespace, replicas: 0);

    /// <summary>
    /// Builds the objects. <paramref name="replicas"/> null leaves the field out (a patch that must not scale).
    /// <paramref name="siloNamespace"/> is where the silos run: a vPod's NetworkPolicy admits the silo pods of that namespace only
    /// (null: of the vPod's own namespace, where no pod can carry the silos' labels).
    /// </summary>
    public static KubernetesWorkload Build(string vpodId, VPodSpec spec, KubernetesRuntimeOptions options, string @namespace, int? replicas, string? siloNamespace = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(vpodId);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(spec.Image))
        {
            throw new InvalidVPodSpecException($"vPod '{vpodId}': the kubernetes runtime needs a container image (spec.image is empty).");
        }

        WorkloadKeyDirectory.ThrowIfMountedOver(vpodId, spec);
        ThrowIfForeignVolumes(vpodId, spec);
        if (spec.PersistentStorage?.MountPath.TrimEnd('/') == TmpPath)
        {
            throw new InvalidVPodSpecException($"vPod '{vpodId}': persistent storage cannot be mounted at {TmpPath}, where the pod has its scratch volume.");
        }

        var name = KubernetesNames.ObjectName(vpodId);
        var selector = new SortedDictionary<string, string>(StringComparer.Ordinal) { [VPodIdLabel(options)] = vpodId };
        var labels = Labels(vpodId, spec, options);
        var kind = spec.PersistentStorage is null ? KubernetesWorkloadKind.Deployment : KubernetesWorkloadKind.StatefulSet;
        var keyClaimName = kind == KubernetesWorkloadKind.Deployment ? KeyClaimName(name) : null;
        var template = PodTemplate(vpodId, spec, options, labels, selector, kind, keyClaimName);
        var keyClaim = Claim(KeyVolumeName, labels, options.DefaultStorageClass, KeyClaimSize);

        V1Deployment? deployment = null;
        V1StatefulSet? statefulSet = null;
        V1PersistentVolumeClaim? standaloneKeyClaim = null;
        if (kind == KubernetesWorkloadKind.Deployment)
        {
            keyClaim.ApiVersion = "v1";
            keyClaim.Kind = "PersistentVolumeClaim";
            keyClaim.Metadata.Name = keyClaimName;
            keyClaim.Metadata.NamespaceProperty = @namespace;
            standaloneKeyClaim = keyClaim;
            deployment = new V1Deployment
            {
                ApiVersion = "apps/v1",
                Kind = "Deployment",
                Metadata = Meta(name, @namespace, labels),
                Spec = new V1DeploymentSpec
                {
                    Replicas = replicas,
                    Selector = new V1LabelSelector { MatchLabels = Copy(selector) },
                    Template = template,
                },
            };
        }
        else
        {
            var storage = spec.PersistentStorage!;
            var storageClass = string.IsNullOrWhiteSpace(storage.StorageClass) ? options.DefaultStorageClass : storage.StorageClass;
            if (!string.IsNullOrWhiteSpace(storageClass) && !KubernetesNames.IsDnsSubdomain(storageClass))
            {
                throw new InvalidVPodSpecException($"vPod '{vpodId}': persistent storage class '{storageClass}' is not a valid storage class name.");
            }

            statefulSet = new V1StatefulSet
            {
                ApiVersion = "apps/v1",
                Kind = "StatefulSet",
                Metadata = Meta(name, @namespace, labels),
                Spec = new V1StatefulSetSpec
                {
                    Replicas = replicas,
                    ServiceName = name,
                    PodManagementPolicy = "Parallel",
                    Selector = new V1LabelSelector { MatchLabels = Copy(selector) },
                    Template = template,
                    VolumeClaimTemplates =
                    [
                        Claim(DataVolumeName, labels, storageClass, Quantity.FormatMemory(storage.SizeBytes)),
                        keyClaim,
                    ],
                },
            };
        }

        return new KubernetesWorkload(
            name,
            @namespace,
            kind,
            labels,
            selector,
            deployment,
            statefulSet,
            Service(name, @namespace, spec, labels, selector),
            NetworkPolicy(vpodId, name, @namespace, spec, options, labels, selector, siloNamespace),
            DisruptionBudget(name, @namespace, spec, labels, selector),
            standaloneKeyClaim);
    }

    /// <summary>
    /// The vPod's labels: the spec's own, then the runtime's: vPod id, name, type, cluster, managed-by, <c>app.kubernetes.io/component=vpod</c>.
    /// A spec label that is not a valid Kubernetes label, or whose key is reserved (<see cref="VPodLabels"/>, and the runtime's
    /// <see cref="KubernetesRuntimeOptions.LabelPrefix"/>), is refused: no vPod can carry a label the silos or PostgreSQL are selected by.
    /// </summary>
    public static SortedDictionary<string, string> Labels(string vpodId, VPodSpec spec, KubernetesRuntimeOptions options)
    {
        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in spec.Labels)
        {
            var problem = VPodLabels.Problem(key, value)
                ?? (key.StartsWith(options.LabelPrefix + "/", StringComparison.OrdinalIgnoreCase) ? $"label key '{key}' is reserved: the runtime sets the labels under '{options.LabelPrefix}/'." : null);
            if (problem is not null)
            {
                throw new InvalidVPodSpecException($"vPod '{vpodId}': {problem}");
            }

            labels[key] = value;
        }

        labels[VPodIdLabel(options)] = vpodId;
        labels[$"{options.LabelPrefix}/vpod-type"] = spec.Type.ToString().ToLowerInvariant();
        labels[VPodNameLabel(options)] = spec.Name;
        labels[KubernetesNames.ManagedByLabel] = KubernetesNames.ManagedBy;
        labels[ComponentLabel] = VPodComponent;
        if (!string.IsNullOrEmpty(spec.Cluster))
        {
            labels[ClusterLabel(options)] = spec.Cluster;
        }

        return labels;
    }

    /// <summary>A ReadWriteOnce claim (a volumeClaimTemplate as it stands; the standalone key claim gets its name and kind on top).</summary>
    private static V1PersistentVolumeClaim Claim(string name, IReadOnlyDictionary<string, string> labels, string? storageClass, string size) =>
        new()
        {
            Metadata = new V1ObjectMeta { Name = name, Labels = Copy(labels) },
            Spec = new V1PersistentVolumeClaimSpec
            {
                AccessModes = ["ReadWriteOnce"],
                StorageClassName = string.IsNullOrWhiteSpace(storageClass) ? null : storageClass,
                Resources = new V1VolumeResourceRequirements
                {
                    Requests = new Dictionary<string, K8sQuantity> { ["storage"] = new(size) },
                },
            },
        };

    private static V1PodTemplateSpec PodTemplate(
        string vpodId,
        VPodSpec spec,
        KubernetesRuntimeOptions options,
        IReadOnlyDictionary<string, string> labels,
        IReadOnlyDictionary<string, string> selector,
        KubernetesWorkloadKind kind,
        string? keyClaimName)
    {
        var dataPath = spec.PersistentStorage?.MountPath ?? DefaultDataPath;
        var mounts = new List<V1VolumeMount> { new() { Name = DataVolumeName, MountPath = dataPath } };
        var volumes = new List<V1Volume>();
        if (kind == KubernetesWorkloadKind.Deployment)
        {
            volumes.Add(new V1Volume { Name = DataVolumeName, EmptyDir = new V1EmptyDirVolumeSource() });
        }

        // A StatefulSet's pods get the key volume from its claim template; a Deployment's mount the vPod's standalone claim.
        mounts.Add(new V1VolumeMount { Name = KeyVolumeName, MountPath = KeyPath });
        if (keyClaimName is not null)
        {
            volumes.Add(new V1Volume { Name = KeyVolumeName, PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = keyClaimName } });
        }

        // The root filesystem is read-only: /tmp is a scratch volume of the pod's own.
        volumes.Add(new V1Volume { Name = TmpVolumeName, EmptyDir = new V1EmptyDirVolumeSource() });
        mounts.Add(new V1VolumeMount { Name = TmpVolumeName, MountPath = TmpPath });

        var resources = new Dictionary<string, K8sQuantity>
        {
            ["cpu"] = new(Quantity.FormatCpu(spec.CpuMillis)),
            ["memory"] = new(Quantity.FormatMemory(spec.MemoryBytes)),
        };
        var container = new V1Container
        {
            Name = ContainerName,
            Image = spec.Image,
            Command = spec.Command.Count > 0 ? spec.Command.ToList() : null,
            Env = Environment(vpodId, spec, dataPath).Select(e => new V1EnvVar { Name = e.Key, Value = e.Value }).ToList(),
            Ports = spec.Ports.Count > 0
                ? spec.Ports.Select(p => new V1ContainerPort { Name = PortName(p), ContainerPort = p, Protocol = "TCP" }).ToList()
                : null,
            Resources = new V1ResourceRequirements { Requests = new Dictionary<string, K8sQuantity>(resources), Limits = resources },
            VolumeMounts = mounts,
            SecurityContext = ContainerSecurity(),
            ReadinessProbe = spec.Ports.Count > 0
                ? new V1Probe
                {
                    HttpGet = new V1HTTPGetAction { Path = "/healthz", Port = PortName(spec.Ports[0]) },
                    PeriodSeconds = 5,
                    FailureThreshold = 3,
                }
                : null,
        };

        return new V1PodTemplateSpec
        {
            Metadata = new V1ObjectMeta { Labels = Copy(labels) },
            Spec = new V1PodSpec
            {
                Containers = [container],
                RestartPolicy = "Always",
                TerminationGracePeriodSeconds = options.TerminationGracePeriodSeconds,
                AutomountServiceAccountToken = false,
                EnableServiceLinks = false,
                SecurityContext = PodSecurity(options),
                ImagePullSecrets = spec.ImagePullSecrets.Count > 0
                    ? spec.ImagePullSecrets.Select(s => new V1LocalObjectReference { Name = s }).ToList()
                    : null,
                Affinity = spec.HighAvailability ? AntiAffinity(options, selector) : null,
                Volumes = volumes.Count > 0 ? volumes : null,
            },
        };
    }

    /// <summary>
    /// Refuses every volume of the spec: on Kubernetes one would be a hostPath (the node's files) or a claim the vPod does not own
    /// (another workload's data, PostgreSQL's included). A vPod's only persistent volume is its own claim template (<see cref="VPodSpec.PersistentStorage"/>).
    /// </summary>
    public static void ThrowIfForeignVolumes(string vpodId, VPodSpec spec)
    {
        if (spec.Volumes.Count > 0)
        {
            var volumes = string.Join(", ", spec.Volumes.Select(v => $"'{v.Source}:{v.Target}'"));
            var refused = spec.Volumes.Count == 1 ? $"volume {volumes} is refused" : $"volumes {volumes} are refused";
            throw new InvalidVPodSpecException(
                $"vPod '{vpodId}': {refused}: the kubernetes runtime mounts no host path and no claim the vPod does not own; ask for persistent storage instead (--storage).");
        }
    }

    /// <summary>The pod's security context: never root, a fixed numeric user, group and fsGroup, the runtime's default seccomp profile (Pod Security <c>restricted</c>).</summary>
    public static V1PodSecurityContext PodSecurity(KubernetesRuntimeOptions options) =>
        new()
        {
            RunAsNonRoot = true,
            RunAsUser = options.RunAsUser,
            RunAsGroup = options.RunAsUser,
            FsGroup = options.RunAsUser,
            SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
        };

    /// <summary>The container's security context: no privilege escalation, a read-only root filesystem, every capability dropped.</summary>
    public static V1SecurityContext ContainerSecurity() =>
        new()
        {
            AllowPrivilegeEscalation = false,
            ReadOnlyRootFilesystem = true,
            Capabilities = new V1Capabilities { Drop = ["ALL"] },
        };

    /// <summary>The workload's environment: the spec's variables, then the <c>METANODE_*</c> ones (which win), sorted by name.</summary>
    public static SortedDictionary<string, string> Environment(string vpodId, VPodSpec spec, string dataPath)
    {
        var environment = new SortedDictionary<string, string>(spec.Env.ToDictionary(e => e.Key, e => e.Value), StringComparer.Ordinal);
        environment["METANODE_VPOD_ID"] = vpodId;
        environment["METANODE_VPOD_NAME"] = spec.Name;
        environment["METANODE_VPOD_TYPE"] = spec.Type.ToString().ToLowerInvariant();
        environment["METANODE_DATA_DIR"] = dataPath;
        environment[WorkloadKeyDirectory.EnvironmentVariable] = KeyPath;
        environment["METANODE_HOST"] = "0.0.0.0";
        if (spec.Ports.Count > 0)
        {
            environment["METANODE_PORT"] = spec.Ports[0].ToString(CultureInfo.InvariantCulture);
        }

        return environment;
    }

    private static V1Affinity AntiAffinity(KubernetesRuntimeOptions options, IReadOnlyDictionary<string, string> selector)
    {
        var term = new V1PodAffinityTerm { LabelSelector = new V1LabelSelector { MatchLabels = Copy(selector) }, TopologyKey = options.TopologyKey };
        return new V1Affinity
        {
            PodAntiAffinity = options.AntiAffinity == AntiAffinityMode.Required
                ? new V1PodAntiAffinity { RequiredDuringSchedulingIgnoredDuringExecution = [term] }
                : new V1PodAntiAffinity { PreferredDuringSchedulingIgnoredDuringExecution = [new V1WeightedPodAffinityTerm { Weight = 100, PodAffinityTerm = term }] },
        };
    }

    private static V1Service? Service(string name, string @namespace, VPodSpec spec, IReadOnlyDictionary<string, string> labels, IReadOnlyDictionary<string, string> selector) =>
        spec.Ports.Count == 0
            ? null
            : new V1Service
            {
                ApiVersion = "v1",
                Kind = "Service",
                Metadata = Meta(name, @namespace, labels),
                Spec = new V1ServiceSpec
                {
                    Type = "ClusterIP",
                    Selector = Copy(selector),
                    Ports = spec.Ports.Select(p => new V1ServicePort { Name = PortName(p), Port = p, TargetPort = PortName(p), Protocol = "TCP" }).ToList(),
                },
            };

    private static V1PodDisruptionBudget? DisruptionBudget(string name, string @namespace, VPodSpec spec, IReadOnlyDictionary<string, string> labels, IReadOnlyDictionary<string, string> selector) =>
        !spec.HighAvailability
            ? null
            : new V1PodDisruptionBudget
            {
                ApiVersion = "policy/v1",
                Kind = "PodDisruptionBudget",
                Metadata = Meta(name, @namespace, labels),
                Spec = new V1PodDisruptionBudgetSpec { MaxUnavailable = 1, Selector = new V1LabelSelector { MatchLabels = Copy(selector) } },
            };

    private static V1NetworkPolicy? NetworkPolicy(
        string vpodId,
        string name,
        string @namespace,
        VPodSpec spec,
        KubernetesRuntimeOptions options,
        IReadOnlyDictionary<string, string> labels,
        IReadOnlyDictionary<string, string> selector,
        string? siloNamespace)
    {
        if (spec.NetworkPolicy is not { Enabled: true } policy)
        {
            return null;
        }

        var peers = new List<V1NetworkPolicyPeer>();
        foreach (var entry in policy.IngressFrom)
        {
            if (!KubernetesNames.TryParseSelector(entry, out var from, out var error))
            {
                throw new InvalidVPodSpecException($"vPod '{vpodId}': network policy ingress '{entry}' {error}");
            }

            if (from.Keys.Select(VPodLabels.SelectorKeyProblem).FirstOrDefault(p => p is not null) is { } problem)
            {
                throw new InvalidVPodSpecException($"vPod '{vpodId}': network policy ingress '{entry}' {problem}");
            }

            peers.Add(new V1NetworkPolicyPeer { PodSelector = new V1LabelSelector { MatchLabels = Copy(from) } });
        }

        if (!string.IsNullOrWhiteSpace(options.SiloSelector) && KubernetesNames.TryParseSelector(options.SiloSelector, out var silos, out _))
        {
            // The silos in their own namespace, for the health probes: a peer with a namespace selector and a pod selector.
            peers.Add(new V1NetworkPolicyPeer
            {
                PodSelector = new V1LabelSelector { MatchLabels = Copy(silos) },
                NamespaceSelector = siloNamespace is null ? null : new V1LabelSelector { MatchLabels = new Dictionary<string, string> { [NamespaceNameLabel] = siloNamespace } },
            });
        }

        var ingress = peers.Count == 0
            ? new List<V1NetworkPolicyIngressRule>()
            : [new V1NetworkPolicyIngressRule
            {
                FromProperty = peers,
                Ports = spec.Ports.Count > 0 ? spec.Ports.Select(p => new V1NetworkPolicyPort { Protocol = "TCP", Port = p }).ToList() : null,
            }];

        var egress = new List<V1NetworkPolicyEgressRule>
        {
            // Name resolution is always allowed: without it no allow-listed host name resolves.
            new() { Ports = [new V1NetworkPolicyPort { Protocol = "UDP", Port = 53 }, new V1NetworkPolicyPort { Protocol = "TCP", Port = 53 }] },
        };
        foreach (var entry in policy.EgressTo)
        {
            if (!TryParseEgress(entry, out var cidr, out var port))
            {
                throw new InvalidVPodSpecException(
                    $"vPod '{vpodId}': network policy egress '{entry}' is invalid: use a CIDR or an IP address, optionally with ':port' (e.g. 10.0.0.0/8, 192.0.2.10:443); Kubernetes NetworkPolicy cannot match host names.");
            }

            egress.Add(new V1NetworkPolicyEgressRule
            {
                To = [new V1NetworkPolicyPeer { IpBlock = new V1IPBlock { Cidr = cidr } }],
                Ports = port is { } p ? [new V1NetworkPolicyPort { Protocol = "TCP", Port = p }] : null,
            });
        }

        return new V1NetworkPolicy
        {
            ApiVersion = "networking.k8s.io/v1",
            Kind = "NetworkPolicy",
            Metadata = Meta(name, @namespace, labels),
            Spec = new V1NetworkPolicySpec
            {
                PodSelector = new V1LabelSelector { MatchLabels = Copy(selector) },
                PolicyTypes = ["Ingress", "Egress"],
                Ingress = ingress,
                Egress = egress,
            },
        };
    }

    /// <summary>The label Kubernetes puts on every namespace, with its name.</summary>
    public const string NamespaceNameLabel = "kubernetes.io/metadata.name";

    /// <summary>Parses an egress entry (see <see cref="EgressTarget"/>); an address becomes a /32 (/128) block.</summary>
    public static bool TryParseEgress(string entry, out string cidr, out int? port) => EgressTarget.TryParse(entry?.Trim(), out cidr, out port);

    /// <summary>The name of a port (container, Service and probe refer to it): <c>port-{number}</c>, at most 15 characters.</summary>
    public static string PortName(int port) => "port-" + port.ToString(CultureInfo.InvariantCulture);

    private static V1ObjectMeta Meta(string name, string @namespace, IReadOnlyDictionary<string, string> labels) =>
        new() { Name = name, NamespaceProperty = @namespace, Labels = Copy(labels) };

    private static Dictionary<string, string> Copy(IReadOnlyDictionary<string, string> labels) => labels.ToDictionary(l => l.Key, l => l.Value, StringComparer.Ordinal);
}
