using System.Globalization;
using MetaNode.VPods;

namespace MetaNode.Client;

/// <summary>
/// Turns what a user typed (<c>--cpu 500m</c>, <c>--memory 4Gi</c>, <c>--env K=V</c>, <c>--volume SRC:DST:ro</c>, ...) into a
/// <see cref="VPodSpec"/>. Every problem is collected; <see cref="Build"/> throws one <see cref="InvalidVPodSpecException"/>
/// whose message names each flag and its bad value.
/// </summary>
public sealed partial class VPodSpecBuilder
{
    public const int MaxNameLength = VPodNames.MaxNameLength;
    public const int MaxLabelLength = VPodLabels.MaxNameLength;
    public const int MaxReplicas = 100;

    private readonly List<string> _errors = [];
    private readonly List<string> _command = [];
    private readonly List<int> _ports = [];
    private readonly Dictionary<string, string> _env = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _labels = new(StringComparer.Ordinal);
    private readonly List<VolumeMount> _volumes = [];
    private readonly List<string> _pullSecrets = [];
    private readonly List<string> _ingressFrom = [];
    private readonly List<string> _egressTo = [];
    private bool _networkPolicy;
    private int? _replicas;
    private bool _highAvailability;
    private long? _storageBytes;
    private string? _storageClass;
    private string? _storageMount;
    private string? _cluster;
    private string? _name;
    private string? _image;
    private VPodType _type = VPodType.Compute;
    private DeploymentMethod _method = DeploymentMethod.Process;
    private RestartPolicy _restartPolicy = RestartPolicy.OnFailure;
    private long? _cpuMillis;
    private long? _memoryBytes;

    public VPodSpecBuilder(string? name = null)
    {
        if (name is not null)
        {
            WithName(name);
        }
    }

    /// <summary>The problems found so far, each naming its flag.</summary>
    public IReadOnlyList<string> Errors => _errors;

    public VPodSpecBuilder WithName(string? name)
    {
        var value = name?.Trim() ?? string.Empty;
        if (!VPodNames.IsName(value))
        {
            Fail(Flags.Name, name, $"use 1-{MaxNameLength} lower-case letters, digits, '-' or '.', starting and ending with a letter or digit");
        }
        else
        {
            _name = value;
        }

        return this;
    }

    public VPodSpecBuilder WithType(string? type)
    {
        switch (type?.Trim().ToLowerInvariant())
        {
            case "compute": _type = VPodType.Compute; break;
            case "validator": _type = VPodType.Validator; break;
            case "storage": _type = VPodType.Storage; break;
            case "orchestrator": _type = VPodType.Orchestrator; break;
            default: Fail(Flags.Type, type, "use compute, validator, storage or orchestrator"); break;
        }

        return this;
    }

    public VPodSpecBuilder WithDeploymentMethod(string? method)
    {
        switch (method?.Trim().ToLowerInvariant())
        {
            case "process": _method = DeploymentMethod.Process; break;
            case "docker": _method = DeploymentMethod.Docker; break;
            case "kubernetes": _method = DeploymentMethod.Kubernetes; break;
            default: Fail(Flags.DeploymentMethod, method, "use process, docker or kubernetes"); break;
        }

        return this;
    }

    public VPodSpecBuilder WithRestartPolicy(string? policy)
    {
        switch (policy?.Trim().ToLowerInvariant())
        {
            case "never": _restartPolicy = RestartPolicy.Never; break;
            case "on-failure": _restartPolicy = RestartPolicy.OnFailure; break;
            case "always": _restartPolicy = RestartPolicy.Always; break;
            default: Fail(Flags.RestartPolicy, policy, "use never, on-failure or always"); break;
        }

        return this;
    }

    /// <summary>Cores (<c>0.5</c>, <c>2</c>) or millicores (<c>500m</c>).</summary>
    public VPodSpecBuilder WithCpu(string? cpu)
    {
        if (ResourceQuantity.TryParseCpu(cpu, out var millis, out var error))
        {
            _cpuMillis = millis;
        }
        else
        {
            _errors.Add($"{Flags.Cpu}: {error}");
        }

        return this;
    }

    /// <summary>Bytes or a size with a suffix (<c>256Mi</c>, <c>4Gi</c>, <c>1G</c>).</summary>
    public VPodSpecBuilder WithMemory(string? memory)
    {
        if (ResourceQuantity.TryParseMemory(memory, out var bytes, out var error))
        {
            _memoryBytes = bytes;
        }
        else
        {
            _errors.Add($"{Flags.Memory}: {error}");
        }

        return this;
    }

    public VPodSpecBuilder WithImage(string? image)
    {
        var value = image?.Trim();
        if (!VPodNames.IsImage(value))
        {
            Fail(Flags.Image, image, "give an image reference (e.g. registry/name:tag) or a program path without spaces");
        }
        else
        {
            _image = value;
        }

        return this;
    }

    /// <summary>A command line, split like a shell would: quotes group words, a backslash escapes the next character.</summary>
    public VPodSpecBuilder WithCommand(string? commandLine)
    {
        if (!TrySplitCommandLine(commandLine, out var words, out var error))
        {
            Fail(Flags.Command, commandLine, error);
        }
        else
        {
            _command.Clear();
            _command.AddRange(words);
        }

        return this;
    }

    /// <summary>The program and its arguments, already split.</summary>
    public VPodSpecBuilder WithCommand(IEnumerable<string> words)
    {
        ArgumentNullException.ThrowIfNull(words);
        var list = words.ToList();
        if (list.Count == 0 || string.IsNullOrWhiteSpace(list[0]))
        {
            Fail(Flags.Command, string.Join(' ', list), "give a program and its arguments");
        }
        else
        {
            _command.Clear();
            _command.AddRange(list);
        }

        return this;
    }

    /// <summary><c>KEY=VALUE</c>; the value may be empty and may contain '='.</summary>
    public VPodSpecBuilder AddEnv(string? assignment)
    {
        if (!VPodNames.TrySplitPair(assignment, out var key, out var value))
        {
            Fail(Flags.Env, assignment, "use KEY=VALUE");
        }
        else if (!VPodNames.IsEnvName(key))
        {
            Fail(Flags.Env, assignment, $"'{key}' is not a valid variable name (letters, digits and '_', not starting with a digit)");
        }
        else if (!_env.TryAdd(key, value))
        {
            Fail(Flags.Env, assignment, $"'{key}' is given more than once");
        }

        return this;
    }

    public VPodSpecBuilder AddPort(string? port)
    {
        if (!int.TryParse(port?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 0 or > 65535)
        {
            Fail(Flags.Port, port, "use a port number from 1 to 65535, or 0 for a free loopback port (process)");
        }
        else
        {
            AddPort(number);
        }

        return this;
    }

    public VPodSpecBuilder AddPort(int port)
    {
        if (port is < 0 or > 65535)
        {
            Fail(Flags.Port, port.ToString(CultureInfo.InvariantCulture), "use a port number from 1 to 65535, or 0 for a free loopback port (process)");
        }
        else if (port != 0 && _ports.Contains(port))
        {
            Fail(Flags.Port, port.ToString(CultureInfo.InvariantCulture), "the port is given more than once");
        }
        else
        {
            _ports.Add(port);
        }

        return this;
    }

    /// <summary>The spec, or an <see cref="InvalidVPodSpecException"/> listing every problem on one line.</summary>
    public VPodSpec Build()
    {
        var errors = new List<string>(_errors);
        if (_name is null && !errors.Any(e => e.StartsWith(Flags.Name, StringComparison.Ordinal)))
        {
            errors.Add($"{Flags.Name}: a name is required.");
        }

        if (_method is DeploymentMethod.Docker or DeploymentMethod.Kubernetes && _image is null
            && !errors.Any(e => e.StartsWith(Flags.Image, StringComparison.Ordinal)))
        {
            errors.Add($"{Flags.Image}: an image is required with {Flags.DeploymentMethod} {_method.ToString().ToLowerInvariant()}.");
        }

        if (_networkPolicy && _method != DeploymentMethod.Kubernetes)
        {
            errors.Add($"{Flags.NetworkPolicy}: only the kubernetes deployment method enforces network policies; use {Flags.DeploymentMethod} kubernetes or drop {Flags.NetworkPolicy}.");
        }

        if (_storageMount is not null && _storageBytes is null && !errors.Any(e => e.StartsWith(Flags.Storage, StringComparison.Ordinal)))
        {
            errors.Add($"{Flags.StorageMount}: give {Flags.Storage} SIZE[:CLASS] too.");
        }

        if (_method == DeploymentMethod.Process && _image is not null && _command.Count > 0)
        {
            errors.Add($"{Flags.Image} and {Flags.Command}: give one of them for a process vPod, not both.");
        }

        if (errors.Count > 0)
        {
            throw new InvalidVPodSpecException(string.Join(" ", errors));
        }

        var defaults = new VPodSpec { Name = _name! };
        return defaults with
        {
            Type = _type,
            DeploymentMethod = _method,
            Image = _image,
            Command = _command.ToArray(),
            CpuMillis = _cpuMillis ?? defaults.CpuMillis,
            MemoryBytes = _memoryBytes ?? defaults.MemoryBytes,
            Ports = _ports.ToArray(),
            Env = new Dictionary<string, string>(_env, StringComparer.Ordinal),
            Volumes = _volumes.ToArray(),
            Labels = new Dictionary<string, string>(_labels, StringComparer.Ordinal),
            RestartPolicy = _restartPolicy,
            ImagePullSecrets = _pullSecrets.ToArray(),
            Replicas = _replicas ?? defaults.Replicas,
            HighAvailability = _highAvailability,
            PersistentStorage = _storageBytes is { } size
                ? new StorageRequest(size, _storageClass, _storageMount ?? new StorageRequest(size).MountPath)
                : null,
            NetworkPolicy = _networkPolicy
                ? new NetworkPolicySpec { Enabled = true, IngressFrom = _ingressFrom.ToArray(), EgressTo = _egressTo.ToArray() }
                : null,
            Cluster = _cluster,
        };
    }

    /// <summary>Splits a command line into words: whitespace separates, single and double quotes group, a backslash escapes outside single quotes.</summary>
    public static bool TrySplitCommandLine(string? commandLine, out IReadOnlyList<string> words, out string error) =>
        CommandLineWords.TrySplit(commandLine, out words, out error);

    private void Fail(string flag, string? value, string hint) =>
        _errors.Add($"{flag}: invalid value '{value}': {hint}.");
}
