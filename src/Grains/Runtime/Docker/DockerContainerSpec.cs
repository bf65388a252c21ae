using System.Globalization;
using Docker.DotNet.Models;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Docker;

/// <summary>Pure decisions of the docker runtime: names, labels, the image's registry, and the container a vPod spec becomes.</summary>
public static class DockerContainerSpec
{
    /// <summary>Where the workload's data lives in the container (<c>METANODE_DATA_DIR</c>).</summary>
    public const string DataDirectory = "/vpod/data";

    /// <summary>Where the vPod's key volume is mounted in the container (<c>METANODE_KEY_DIR</c>).</summary>
    public const string KeyDirectory = WorkloadKeyDirectory.ContainerPath;

    public const string VPodLabel = "vpod";
    public const string NameLabel = "name";
    public const string TypeLabel = "type";
    public const string ClusterLabel = "cluster";
    public const string PortLabel = "port";
    public const string StorageSizeLabel = "storage-size";

    /// <summary>Labels a vPod's volume with what it holds (<see cref="KeyVolumeRole"/>).</summary>
    public const string VolumeLabel = "volume";
    public const string KeyVolumeRole = "key";

    /// <summary>The container's processes can gain no privileges through setuid binaries or file capabilities.</summary>
    public const string NoNewPrivileges = "no-new-privileges:true";

    /// <summary>The container keeps no Linux capability (none is added back).</summary>
    public const string DropAllCapabilities = "ALL";

    private const string DockerHub = "docker.io";

    /// <summary>The workload's data directory in the container (its <c>METANODE_DATA_DIR</c>): the persistent storage's mount path, else <see cref="DataDirectory"/>.</summary>
    public static string DataDirectoryOf(VPodSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.PersistentStorage?.MountPath ?? DataDirectory;
    }

    /// <summary>The container name of a vPod: deterministic, so a second create finds the first container instead of making another.</summary>
    public static string ContainerName(DockerRuntimeOptions options, string vpodId) => options.ContainerNamePrefix + vpodId;

    /// <summary>The named volume holding a vPod's persistent storage.</summary>
    public static string StorageVolumeName(DockerRuntimeOptions options, string vpodId) => ContainerName(options, vpodId) + "-data";

    /// <summary>
    /// The named volume holding the vPod's workload key (mounted at <see cref="KeyDirectory"/>). Its name depends on the vPod only, so
    /// every container made for the vPod (restart, re-adoption by another silo) mounts the same one; removing the vPod removes it.
    /// </summary>
    public static string KeyVolumeName(DockerRuntimeOptions options, string vpodId) => ContainerName(options, vpodId) + "-key";

    public static string Label(DockerRuntimeOptions options, string key) => options.LabelPrefix + "." + key;

    /// <summary>The engine filter selecting everything made for <paramref name="vpodId"/>.</summary>
    public static IDictionary<string, IDictionary<string, bool>> VPodFilter(DockerRuntimeOptions options, string vpodId) =>
        new Dictionary<string, IDictionary<string, bool>>
        {
            ["label"] = new Dictionary<string, bool> { [$"{Label(options, VPodLabel)}={vpodId}"] = true },
        };

    /// <summary>A vPod without its own command runs the image's workload, which speaks the workload protocol; so does one that names ports.</summary>
    public static bool SpeaksWorkloadProtocol(VPodSpec spec) => spec.Ports.Count > 0 || spec.Command.Count == 0;

    /// <summary>The labels identifying a vPod's container and volumes: the spec's own, then the runtime's (which win).</summary>
    public static Dictionary<string, string> Labels(DockerRuntimeOptions options, string vpodId, VPodSpec spec, int? workloadPort)
    {
        var labels = new Dictionary<string, string>(spec.Labels, StringComparer.Ordinal)
        {
            [Label(options, VPodLabel)] = vpodId,
            [Label(options, NameLabel)] = spec.Name,
            [Label(options, TypeLabel)] = spec.Type.ToString().ToLowerInvariant(),
        };
        if (!string.IsNullOrEmpty(spec.Cluster))
        {
            labels[Label(options, ClusterLabel)] = spec.Cluster;
        }

        if (workloadPort is { } port)
        {
            labels[Label(options, PortLabel)] = port.ToString(CultureInfo.InvariantCulture);
        }

        return labels;
    }

    /// <summary>
    /// The container for a vPod: image, command (the spec's command replaces the image's entrypoint), environment, labels,
    /// cpu (NanoCPUs) and memory limits (swap included, so the limit is a hard one), a pids limit, no capabilities and no new
    /// privileges (<see cref="NoNewPrivileges"/>, never privileged), volumes (the spec's, the persistent storage's
    /// and the vPod's key volume at <see cref="KeyDirectory"/>), network and ports. The engine's
    /// restart policy is <c>no</c>: the vPod grain applies the vPod's own. <paramref name="workloadPort"/> is the port the
    /// workload listens on (null when it speaks no workload protocol).
    /// </summary>
    public static CreateContainerParameters Build(string vpodId, VPodSpec spec, DockerRuntimeOptions options, int? workloadPort)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(spec.Image))
        {
            throw new InvalidVPodSpecException($"vPod '{vpodId}': a docker vPod needs an image.");
        }

        WorkloadKeyDirectory.ThrowIfMountedOver(vpodId, spec);

        var host = options.NetworkMode == DockerNetworkMode.Host;
        var env = new Dictionary<string, string>(spec.Env, StringComparer.Ordinal)
        {
            ["METANODE_VPOD_ID"] = vpodId,
            ["METANODE_VPOD_NAME"] = spec.Name,
            ["METANODE_VPOD_TYPE"] = spec.Type.ToString().ToLowerInvariant(),
            ["METANODE_DATA_DIR"] = DataDirectoryOf(spec),
            [WorkloadKeyDirectory.EnvironmentVariable] = KeyDirectory,
            ["METANODE_HOST"] = host ? options.HostAddress : "0.0.0.0",
        };
        if (workloadPort is { } port)
        {
            env["METANODE_PORT"] = port.ToString(CultureInfo.InvariantCulture);
        }

        var labels = Labels(options, vpodId, spec, workloadPort);
        var mounts = spec.Volumes.Select(v => new Mount
        {
            Type = IsHostPath(v.Source) ? "bind" : "volume",
            Source = v.Source,
            Target = v.Target,
            ReadOnly = v.ReadOnly,
        }).ToList();
        if (spec.PersistentStorage is { } storage)
        {
            var volumeLabels = new Dictionary<string, string>(labels, StringComparer.Ordinal)
            {
                [Label(options, StorageSizeLabel)] = storage.SizeBytes.ToString(CultureInfo.InvariantCulture),
            };
            volumeLabels.Remove(Label(options, PortLabel));
            mounts.Add(new Mount
            {
                Type = "volume",
                Source = StorageVolumeName(options, vpodId),
                Target = storage.MountPath,
                VolumeOptions = new VolumeOptions
                {
                    Labels = volumeLabels,
                    DriverConfig = string.IsNullOrEmpty(storage.StorageClass) ? null : new Driver { Name = storage.StorageClass },
                },
            });
        }

        var keyVolumeLabels = new Dictionary<string, string>(labels, StringComparer.Ordinal)
        {
            [Label(options, VolumeLabel)] = KeyVolumeRole,
        };
        keyVolumeLabels.Remove(Label(options, PortLabel));
        mounts.Add(new Mount
        {
            Type = "volume",
            Source = KeyVolumeName(options, vpodId),
            Target = KeyDirectory,
            VolumeOptions = new VolumeOptions { Labels = keyVolumeLabels },
        });

        var parameters = new CreateContainerParameters
        {
            Name = ContainerName(options, vpodId),
            Image = spec.Image,
            Env = env.Select(e => $"{e.Key}={e.Value}").ToList(),
            Labels = labels,
            HostConfig = new HostConfig
            {
                NanoCPUs = spec.CpuMillis * 1_000_000,
                Memory = spec.MemoryBytes,
                MemorySwap = spec.MemoryBytes,
                RestartPolicy = new global::Docker.DotNet.Models.RestartPolicy { Name = RestartPolicyKind.No },
                NetworkMode = host ? "host" : options.Network,
                Mounts = mounts,
                Init = options.Init,
                Privileged = false,
                CapDrop = [DropAllCapabilities],
                SecurityOpt = [NoNewPrivileges],
                PidsLimit = options.PidsLimit,
            },
        };
        if (spec.Command.Count > 0)
        {
            parameters.Entrypoint = [spec.Command[0]];
            parameters.Cmd = spec.Command.Skip(1).ToList();
        }

        if (!host)
        {
            var ports = spec.Ports.Count > 0 ? spec.Ports : workloadPort is { } p ? [p] : [];
            parameters.ExposedPorts = ports.ToDictionary(p => PortKey(p), _ => new EmptyStruct());
            parameters.HostConfig.PortBindings = ports.ToDictionary(
                p => PortKey(p),
                _ => (IList<PortBinding>)[new PortBinding { HostIP = options.PublishAddress, HostPort = string.Empty }]);
        }

        return parameters;
    }

    /// <summary>The engine's key for a container port.</summary>
    public static string PortKey(int port) => port.ToString(CultureInfo.InvariantCulture) + "/tcp";

    /// <summary>A volume source that is a path on the engine's host (bind mount) rather than a named volume.</summary>
    public static bool IsHostPath(string source) => source.StartsWith('/') || source.StartsWith("./", StringComparison.Ordinal) || source.StartsWith("../", StringComparison.Ordinal);

    /// <summary>The registry host of an image reference: <c>registry.example.com:5000/team/app:1</c> → <c>registry.example.com:5000</c>; <c>metanode/x</c> → <c>docker.io</c>.</summary>
    public static string RegistryOf(string image)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(image);
        var slash = image.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0)
        {
            return DockerHub;
        }

        var first = image[..slash];
        return first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost"
            ? first
            : DockerHub;
    }

    /// <summary>Splits a reference for a pull: the name (with digest when pinned) and a tag (<c>latest</c> when none is given, so a pull never fetches every tag).</summary>
    public static (string Name, string? Tag) SplitForPull(string image)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(image);
        if (image.Contains('@', StringComparison.Ordinal))
        {
            return (image, null);
        }

        var lastSlash = image.LastIndexOf('/');
        var colon = image.LastIndexOf(':');
        return colon > lastSlash ? (image[..colon], image[(colon + 1)..]) : (image, "latest");
    }

    /// <summary>Whether a configured registry server stands for <paramref name="registry"/> (Docker Hub has several spellings).</summary>
    public static bool SameRegistry(string configured, string registry)
    {
        static string Normalize(string value)
        {
            var v = value.Trim().ToLowerInvariant();
            v = v.Replace("https://", string.Empty, StringComparison.Ordinal).Replace("http://", string.Empty, StringComparison.Ordinal).TrimEnd('/');
            if (v.EndsWith("/v1", StringComparison.Ordinal) || v.EndsWith("/v2", StringComparison.Ordinal))
            {
                v = v[..^3];
            }

            return v is "index.docker.io" or "registry-1.docker.io" or "registry.hub.docker.com" ? DockerHub : v;
        }

        return string.Equals(Normalize(configured), Normalize(registry), StringComparison.Ordinal);
    }

    /// <summary>
    /// The credentials to pull <paramref name="image"/> with: among the registries the vPod names in <paramref name="pullSecrets"/>
    /// (all configured ones when it names none), the one whose server hosts the image; null for an anonymous pull.
    /// Throws <see cref="InvalidVPodSpecException"/> when a named secret is not configured.
    /// </summary>
    public static (string Name, DockerRegistryOptions Registry)? SelectRegistry(string image, IReadOnlyList<string> pullSecrets, IReadOnlyDictionary<string, DockerRegistryOptions> registries)
    {
        var missing = pullSecrets.Where(s => !registries.ContainsKey(s)).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidVPodSpecException(
                $"image pull secret '{string.Join("', '", missing)}' is not configured on this silo: add it under {DockerRuntimeOptions.SectionName}:Registries:{missing[0]} (Server, Username, Password).");
        }

        var registry = RegistryOf(image);
        var candidates = pullSecrets.Count > 0 ? pullSecrets.Select(s => (s, registries[s])) : registries.Select(r => (r.Key, r.Value));
        foreach (var (name, options) in candidates)
        {
            if (SameRegistry(options.Server, registry))
            {
                return (name, options);
            }
        }

        return null;
    }
}
