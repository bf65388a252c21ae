using System.Globalization;
using MetaNode.VPods;

namespace MetaNode.Client;

/// <summary>
/// Turns what a user typed (<c>--cpu 500m</c>, <c>--memory 4Gi</c>, <c>--env K=V</c>, <c>--volume SRC:DST:ro</c>, ...) into a
/// <see cref="VPodSpec"/>. Every problem is collected; <see cref="Build"/> throws one <see cref="InvalidVPodSpecException"/>
/// whose message names each flag and its bad value.
/// </summary>
public sealed class VPodSpecBuilder
{
    public const int MaxNameLength = 63;
    public const int MaxLabelLength = 63;
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
        if (!IsDnsLabel(value, MaxNameLength))
        {
            Fail(Flags.Name, name, $"use 1-{MaxNameLength} lower-case letters, digits and '-', starting and ending with a letter or digit");
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
        if (string.IsNullOrEmpty(value) || value.Any(char.IsWhiteSpace))
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
        if (!TrySplitPair(assignment, out var key, out var value))
        {
            Fail(Flags.Env, assignment, "use KEY=VALUE");
        }
        else if (!IsEnvName(key))
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

    /// <summary><c>SOURCE:TARGET</c> or <c>SOURCE:TARGET:ro</c> (or <c>:rw</c>); the target is an absolute path.</summary>
    public VPodSpecBuilder AddVolume(string? volume)
    {
        var parts = (volume ?? string.Empty).Split(':');
        if (parts.Length is < 2 or > 3 || parts.Any(p => p.Trim().Length == 0))
        {
            Fail(Flags.Volume, volume, "use SOURCE:TARGET or SOURCE:TARGET:ro");
            return this;
        }

        var source = parts[0].Trim();
        var target = parts[1].Trim();
        var readOnly = false;
        if (parts.Length == 3)
        {
            switch (parts[2].Trim().ToLowerInvariant())
            {
                case "ro": readOnly = true; break;
                case "rw": readOnly = false; break;
                default:
                    Fail(Flags.Volume, volume, $"the mode '{parts[2]}' must be ro or rw");
                    return this;
            }
        }

        if (!target.StartsWith('/'))
        {
            Fail(Flags.Volume, volume, $"the target '{target}' must be an absolute path");
        }
        else if (_volumes.Any(v => string.Equals(v.Target, target, StringComparison.Ordinal)))
        {
            Fail(Flags.Volume, volume, $"the target '{target}' is mounted more than once");
        }
        else
        {
            _volumes.Add(new VolumeMount(source, target, readOnly));
        }

        return this;
    }

    /// <summary><c>key=value</c>: a key of letters, digits, '-', '_', '.', '/', a value of at most 63 such characters.</summary>
    public VPodSpecBuilder AddLabel(string? label)
    {
        if (!TrySplitPair(label, out var key, out var value))
        {
            Fail(Flags.Label, label, "use key=value");
        }
        else if (!IsLabelKey(key))
        {
            Fail(Flags.Label, label, $"the key '{key}' must be letters, digits, '-', '_', '.' or '/', starting and ending with a letter or digit");
        }
        else if (value.Length > 0 && !IsLabelValue(value))
        {
            Fail(Flags.Label, label, $"the value '{value}' must be at most {MaxLabelLength} letters, digits, '-', '_' or '.', starting and ending with a letter or digit");
        }
        else if (!_labels.TryAdd(key, value))
        {
            Fail(Flags.Label, label, $"'{key}' is given more than once");
        }

        return this;
    }

    /// <summary>The name of registry credentials to pull the image with (docker: a configured registry; kubernetes: a Secret).</summary>
    public VPodSpecBuilder AddPullSecret(string? secret)
    {
        var value = secret?.Trim() ?? string.Empty;
        if (!IsDnsName(value))
        {
            Fail(Flags.PullSecret, secret, "use a lower-case DNS name (letters, digits, '-' and '.')");
        }
        else if (_pullSecrets.Contains(value))
        {
            Fail(Flags.PullSecret, secret, "the secret is given more than once");
        }
        else
        {
            _pullSecrets.Add(value);
        }

        return this;
    }

    /// <summary>Workload replicas, 1 to 100 (kubernetes; other runtimes run one).</summary>
    public VPodSpecBuilder WithReplicas(string? replicas)
    {
        if (!int.TryParse(replicas?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count is < 1 or > MaxReplicas)
        {
            Fail(Flags.Replicas, replicas, $"use a number from 1 to {MaxReplicas}");
        }
        else
        {
            _replicas = count;
        }

        return this;
    }

    public VPodSpecBuilder WithHighAvailability(bool highAvailability = true)
    {
        _highAvailability = highAvailability;
        return this;
    }

    /// <summary><c>SIZE</c> or <c>SIZE:CLASS</c>: persistent storage of that size (<c>10Gi</c>), from that storage class (docker: volume driver).</summary>
    public VPodSpecBuilder WithStorage(string? storage)
    {
        var parts = (storage ?? string.Empty).Split(':');
        if (parts.Length > 2 || !ResourceQuantity.TryParseMemory(parts[0], out var bytes, out _) || bytes < VPodSpecValidation.MinimumMemoryBytes)
        {
            Fail(Flags.Storage, storage, "use SIZE or SIZE:CLASS with a size of at least 4Mi (e.g. 10Gi or 10Gi:fast-ssd)");
            return this;
        }

        var storageClass = parts.Length == 2 ? parts[1].Trim() : null;
        if (storageClass is not null && !IsDnsName(storageClass))
        {
            Fail(Flags.Storage, storage, $"the storage class '{storageClass}' must be a lower-case DNS name");
            return this;
        }

        _storageBytes = bytes;
        _storageClass = storageClass;
        return this;
    }

    /// <summary>Where persistent storage is mounted in the workload (default <c>/vpod/data</c>).</summary>
    public VPodSpecBuilder WithStorageMount(string? path)
    {
        var value = path?.Trim() ?? string.Empty;
        if (!value.StartsWith('/') || value.Any(char.IsWhiteSpace))
        {
            Fail(Flags.StorageMount, path, "use an absolute path without spaces");
        }
        else
        {
            _storageMount = value;
        }

        return this;
    }

    /// <summary>
    /// One network-policy rule: <c>deny-all</c> (a policy with no rules), <c>ingress:KEY=VALUE[,KEY=VALUE]</c> (pods carrying all
    /// these labels may connect in) or <c>egress:CIDR[:PORT]</c> / <c>egress:IP[:PORT]</c> (where the workload may connect out;
    /// network policies match addresses, not host names). Any rule turns the policy on; the runtime must be kubernetes.
    /// </summary>
    public VPodSpecBuilder AddNetworkPolicy(string? rule)
    {
        var value = rule?.Trim() ?? string.Empty;
        if (value == NetworkPolicyRules.DenyAll)
        {
            _networkPolicy = true;
        }
        else if (value.StartsWith(NetworkPolicyRules.IngressPrefix, StringComparison.Ordinal))
        {
            var selector = value[NetworkPolicyRules.IngressPrefix.Length..];
            if (!NetworkPolicyRules.IsSelector(selector))
            {
                Fail(Flags.NetworkPolicy, rule, "an ingress rule is a label selector with distinct keys: ingress:KEY=VALUE[,KEY=VALUE]");
            }
            else if (_ingressFrom.Contains(selector))
            {
                Fail(Flags.NetworkPolicy, rule, "the rule is given more than once");
            }
            else
            {
                _networkPolicy = true;
                _ingressFrom.Add(selector);
            }
        }
        else if (value.StartsWith(NetworkPolicyRules.EgressPrefix, StringComparison.Ordinal))
        {
            var target = value[NetworkPolicyRules.EgressPrefix.Length..];
            if (!NetworkPolicyRules.IsEgressTarget(target))
            {
                Fail(Flags.NetworkPolicy, rule, "an egress rule is a CIDR or an IP address, optionally with :PORT (egress:10.0.0.0/8, egress:192.0.2.10:8545); network policies cannot match host names");
            }
            else if (_egressTo.Contains(target))
            {
                Fail(Flags.NetworkPolicy, rule, "the rule is given more than once");
            }
            else
            {
                _networkPolicy = true;
                _egressTo.Add(target);
            }
        }
        else
        {
            Fail(Flags.NetworkPolicy, rule, "use deny-all, ingress:KEY=VALUE[,KEY=VALUE] or egress:CIDR|IP[:PORT]");
        }

        return this;
    }

    /// <summary>The vPod cluster the vPod belongs to.</summary>
    public VPodSpecBuilder WithCluster(string? cluster)
    {
        var value = cluster?.Trim() ?? string.Empty;
        if (!IsDnsName(value))
        {
            Fail(Flags.Cluster, cluster, "use 1-63 lower-case letters, digits, '-' or '.'");
        }
        else
        {
            _cluster = value;
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
    public static bool TrySplitCommandLine(string? commandLine, out IReadOnlyList<string> words, out string error)
    {
        var result = new List<string>();
        words = result;
        var current = new System.Text.StringBuilder();
        var inWord = false;
        char? quote = null;
        var text = commandLine ?? string.Empty;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote == '\'')
            {
                if (c == '\'')
                {
                    quote = null;
                }
                else
                {
                    current.Append(c);
                }

                continue;
            }

            if (c == '\\' && i + 1 < text.Length)
            {
                current.Append(text[++i]);
                inWord = true;
                continue;
            }

            if (quote == '"')
            {
                if (c == '"')
                {
                    quote = null;
                }
                else
                {
                    current.Append(c);
                }

                continue;
            }

            if (c is '\'' or '"')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    result.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }
            }
            else
            {
                current.Append(c);
                inWord = true;
            }
        }

        if (quote is not null)
        {
            error = $"the quote {quote} is not closed";
            return false;
        }

        if (inWord)
        {
            result.Add(current.ToString());
        }

        if (result.Count == 0 || result[0].Length == 0)
        {
            error = "give a program and its arguments";
            return false;
        }

        error = string.Empty;
        return true;
    }

    private void Fail(string flag, string? value, string hint) =>
        _errors.Add($"{flag}: invalid value '{value}': {hint}.");

    internal static bool TrySplitPair(string? text, out string key, out string value)
    {
        key = string.Empty;
        value = string.Empty;
        var separator = text?.IndexOf('=', StringComparison.Ordinal) ?? -1;
        if (text is null || separator <= 0)
        {
            return false;
        }

        key = text[..separator].Trim();
        value = text[(separator + 1)..];
        return key.Length > 0;
    }

    private static bool IsDnsLabel(string value, int maxLength) =>
        value.Length > 0 && value.Length <= maxLength
        && char.IsAsciiLetterOrDigit(value[0]) && char.IsAsciiLetterOrDigit(value[^1])
        && value.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');

    private static bool IsDnsName(string value) =>
        value.Length is > 0 and <= MaxNameLength
        && char.IsAsciiLetterOrDigit(value[0]) && char.IsAsciiLetterOrDigit(value[^1])
        && value.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.');

    private static bool IsEnvName(string value) =>
        value.Length > 0 && !char.IsAsciiDigit(value[0]) && value.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    internal static bool IsLabelKey(string value) =>
        value.Length is > 0 and <= 253
        && char.IsAsciiLetterOrDigit(value[0]) && char.IsAsciiLetterOrDigit(value[^1])
        && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/');

    internal static bool IsLabelValue(string value) =>
        value.Length <= MaxLabelLength
        && char.IsAsciiLetterOrDigit(value[0]) && char.IsAsciiLetterOrDigit(value[^1])
        && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>The command-line flag each builder method stands for; error messages start with it.</summary>
    public static class Flags
    {
        public const string Name = "--name";
        public const string Type = "--type";
        public const string Cpu = "--cpu";
        public const string Memory = "--memory";
        public const string Image = "--image";
        public const string Command = "--command";
        public const string Env = "--env";
        public const string Port = "--port";
        public const string Volume = "--volume";
        public const string Label = "--label";
        public const string RestartPolicy = "--restart-policy";
        public const string DeploymentMethod = "--deployment-method";
        public const string PullSecret = "--pull-secret";
        public const string Replicas = "--replicas";
        public const string HighAvailability = "--high-availability";
        public const string Storage = "--storage";
        public const string StorageMount = "--storage-mount";
        public const string NetworkPolicy = "--network-policy";
        public const string Cluster = "--cluster";
    }
}
