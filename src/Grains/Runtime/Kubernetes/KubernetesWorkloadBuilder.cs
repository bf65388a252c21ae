using System.Globalization;
using System.Net;
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

    /// <summary>Builds the objects. <paramref name="replicas"/> null leaves the field out (a patch that must not scale).</summary>
    public static KubernetesWorkload Build(string vpodId, VPodSpec spec, KubernetesRuntimeOptions options, string @namespace, int? replicas)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(vpodId);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(spec.Image))
        {
            throw new InvalidVPodSpecException($"vPod '{vpodId}': the kubernetes runtime needs a container image (spec.image is empty).");
        }

        WorkloadKeyDirectory.ThrowIfMountedOver(vpodId, spec);

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
            NetworkPolicy(vpodId, name, @namespace, spec, options, labels, selector),
            DisruptionBudget(name, @namespace, spec, labels, selector),
            standaloneKeyClaim);
    }

    /// <summary>The vPod's labels: the spec's own, then the runtime's (which win): vPod id, name, type, cluster, managed-by.</summary>
    public static SortedDictionary<string, string> Labels(string vpodId, VPodSpec spec, KubernetesRuntimeOptions options)
    {
        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in spec.Labels)
        {
            if (!KubernetesNames.IsLabelKey(key) || !KubernetesNames.IsLabelValue(value))
            {
                throw new InvalidVPodSpecException($"vPod '{vpodId}': label '{key}={value}' is not a valid Kubernetes label (value: at most 63 letters, digits, '-', '_', '.').");
            }

            labels[key] = value;
        }

        labels[VPodIdLabel(options)] = vpodId;
        labels[$"{options.LabelPrefix}/vpod-type"] = spec.Type.ToString().ToLowerInvariant();
        labels["app.kubernetes.io/name"] = spec.Name;
        labels[KubernetesNames.ManagedByLabel] = KubernetesNames.ManagedBy;
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

        for (var i = 0; i < spec.Volumes.Count; i++)
        {
            var volume = spec.Volumes[i];
            var volumeName = $"volume-{i.ToString(CultureInfo.InvariantCulture)}";
            if (volume.Source.StartsWith('/'))
            {
                volumes.Add(new V1Volume { Name = volumeName, HostPath = new V1HostPathVolumeSource { Path = volume.Source } });
            }
            else if (KubernetesNames.IsDnsSubdomain(volume.Source))
            {
                volumes.Add(new V1Volume
                {
                    Name = volumeName,
                    PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = volume.Source, ReadOnlyProperty = volume.ReadOnly ? true : null },
                });
            }
            else
            {
                throw new InvalidVPodSpecException($"volume '{volume.Source}:{volume.Target}': the source must be a host path (/...) or the name of a PersistentVolumeClaim.");
            }

            mounts.Add(new V1VolumeMount { Name = volumeName, MountPath = volume.Target, ReadOnlyProperty = volume.ReadOnly ? true : null });
        }

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
                ImagePullSecrets = spec.ImagePullSecrets.Count > 0
                    ? spec.ImagePullSecrets.Select(s => new V1LocalObjectReference { Name = s }).ToList()
                    : null,
                Affinity = spec.HighAvailability ? AntiAffinity(options, selector) : null,
                Volumes = volumes.Count > 0 ? volumes : null,
            },
        };
    }

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
        IReadOnlyDictionary<string, string> selector)
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

            peers.Add(new V1NetworkPolicyPeer { PodSelector = new V1LabelSelector { MatchLabels = Copy(from) } });
        }

        if (!string.IsNullOrWhiteSpace(options.SiloSelector) && KubernetesNames.TryParseSelector(options.SiloSelector, out var silos, out _))
        {
            peers.Add(new V1NetworkPolicyPeer { PodSelector = new V1LabelSelector { MatchLabels = Copy(silos) } });
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

    /// <summary>Parses an egress entry (see <see cref="EgressTarget"/>); an address becomes a /32 (/128) block.</summary>
    public static bool TryParseEgress(string entry, out string cidr, out int? port) => EgressTarget.TryParse(entry?.Trim(), out cidr, out port);

    /// <summary>The name of a port (container, Service and probe refer to it): <c>port-{number}</c>, at most 15 characters.</summary>
    public static string PortName(int port) => "port-" + port.ToString(CultureInfo.InvariantCulture);

    private static V1ObjectMeta Meta(string name, string @namespace, IReadOnlyDictionary<string, string> labels) =>
        new() { Name = name, NamespaceProperty = @namespace, Labels = Copy(labels) };

    private static Dictionary<string, string> Copy(IReadOnlyDictionary<string, string> labels) => labels.ToDictionary(l => l.Key, l => l.Value, StringComparer.Ordinal);
}
