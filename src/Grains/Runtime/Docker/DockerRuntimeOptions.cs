namespace MetaNode.Grains.Runtime.Docker;

/// <summary>How the silo reaches the workloads of docker vPods.</summary>
public enum DockerNetworkMode
{
    None = 0,

    /// <summary>
    /// The container shares the engine host's network namespace. Each vPod gets its own port on <see cref="DockerRuntimeOptions.HostAddress"/>
    /// (the spec's first port, else a free one chosen at provisioning). Needs no bridge, no NAT and no registry: what CI uses.
    /// The engine reports no per-container network counters in this mode.
    /// </summary>
    Host = 1,

    /// <summary>
    /// The container joins <see cref="DockerRuntimeOptions.Network"/> (default <c>bridge</c>); its workload port is published on
    /// <see cref="DockerRuntimeOptions.PublishAddress"/> at a port the engine picks, which becomes the vPod's endpoint.
    /// </summary>
    Bridge = 2,
}

/// <summary>When the runtime pulls a vPod's image.</summary>
public enum DockerPullPolicy
{
    None = 0,

    /// <summary>Pull only when the engine does not have the image.</summary>
    IfNotPresent = 1,

    /// <summary>Never pull: a missing image is an error.</summary>
    Never = 2,

    /// <summary>Pull before every container is created (the engine keeps its copy when the registry is unreachable and the image exists).</summary>
    Always = 3,
}

/// <summary>Credentials for one registry; a vPod names them in its <c>ImagePullSecrets</c> by the key they are configured under.</summary>
public sealed class DockerRegistryOptions
{
    /// <summary>The registry host (and port), e.g. <c>registry.example.com:5000</c>; <c>docker.io</c> for Docker Hub.</summary>
    public string Server { get; set; } = string.Empty;

    public string? Username { get; set; }

    [Redact]
    public string? Password { get; set; }

    /// <summary>An identity token instead of a password (registries that issue OAuth refresh tokens).</summary>
    [Redact]
    public string? IdentityToken { get; set; }

    public override string ToString() => $"{Username ?? "(anonymous)"}@{Server}";
}

/// <summary>Configuration of the <c>docker</c> runtime driver (section <c>MetaNode:Runtime:Docker</c>).</summary>
public sealed class DockerRuntimeOptions
{
    public const string SectionName = "MetaNode:Runtime:Docker";

    /// <summary>The engine used when neither <see cref="Endpoint"/> nor <c>DOCKER_HOST</c> is set.</summary>
    public const string DefaultEndpoint = "unix:///var/run/docker.sock";

    /// <summary>The Docker Engine API: <c>unix:///path/docker.sock</c> or <c>tcp://host:port</c>. Empty: <c>DOCKER_HOST</c>, else <see cref="DefaultEndpoint"/>.</summary>
    public string? Endpoint { get; set; }

    public DockerNetworkMode NetworkMode { get; set; } = DockerNetworkMode.Host;

    /// <summary>The network containers join in <see cref="DockerNetworkMode.Bridge"/> mode.</summary>
    public string Network { get; set; } = "bridge";

    /// <summary>The host address workload ports are published on in <see cref="DockerNetworkMode.Bridge"/> mode.</summary>
    public string PublishAddress { get; set; } = "127.0.0.1";

    /// <summary>The address the silo probes workloads at (and, in host mode, the address workloads listen on).</summary>
    public string HostAddress { get; set; } = "127.0.0.1";

    /// <summary>The workload port inside the container in bridge mode when the spec names none.</summary>
    public int DefaultWorkloadPort { get; set; } = 8080;

    /// <summary>Prefix of the labels that identify a vPod's containers and volumes (<c>{prefix}.vpod</c>, <c>{prefix}.cluster</c>, ...).</summary>
    public string LabelPrefix { get; set; } = "io.metanode";

    /// <summary>Prefix of container names: a vPod's container is <c>{prefix}{vpodId}</c>, so creating it twice finds the first.</summary>
    public string ContainerNamePrefix { get; set; } = "metanode-";

    public DockerPullPolicy PullPolicy { get; set; } = DockerPullPolicy.IfNotPresent;

    /// <summary>Runs the engine's init (<c>docker-init</c>) as the container's first process, so stop signals reach shell workloads and zombies are reaped.</summary>
    public bool Init { get; set; } = true;

    /// <summary>How long pulling one image may take.</summary>
    public TimeSpan PullTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long one engine API request may take (pulls and log follows excepted).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Grace given to a container's main process after SIGTERM when a vPod is removed.</summary>
    public TimeSpan RemoveStopTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often a log follower checks whether a stopped container runs again.</summary>
    public TimeSpan LogPollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Host directories under which a vPod may bind-mount a host path (<c>--volume /host/path:/target</c>), as absolute
    /// normalized paths. Empty (the default): no host bind mounts at all, only named volumes. The engine's socket is never
    /// allowed. Paths are checked on the silo's machine (symbolic links resolved), so set roots only when the engine runs there.
    /// </summary>
    public List<string> AllowedBindRoots { get; set; } = [];

    /// <summary>The most processes (and threads) a vPod's container may run at once (the engine's pids limit).</summary>
    public long PidsLimit { get; set; } = 512;

    /// <summary>Registry credentials by name; a vPod's <c>ImagePullSecrets</c> picks among them (the one whose server hosts the image).</summary>
    public Dictionary<string, DockerRegistryOptions> Registries { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The endpoint in effect: <see cref="Endpoint"/>, else <c>DOCKER_HOST</c>, else <see cref="DefaultEndpoint"/>.</summary>
    public string ResolveEndpoint(Func<string, string?>? getEnvironmentVariable = null)
    {
        if (!string.IsNullOrWhiteSpace(Endpoint))
        {
            return Endpoint.Trim();
        }

        var fromEnvironment = (getEnvironmentVariable ?? Environment.GetEnvironmentVariable)("DOCKER_HOST");
        return string.IsNullOrWhiteSpace(fromEnvironment) ? DefaultEndpoint : fromEnvironment.Trim();
    }
}
