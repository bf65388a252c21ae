using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using MetaNode.VPods;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Runtime.Docker;

/// <summary>Checks <see cref="DockerRuntimeOptions"/> and reports every bad setting with its configuration key and value.</summary>
public sealed partial class DockerRuntimeOptionsValidator : IValidateOptions<DockerRuntimeOptions>
{
    private const string Prefix = DockerRuntimeOptions.SectionName + ":";

    /// <summary>The kernel's largest pid number (pid_max on 64-bit).</summary>
    private const long MaxPidsLimit = 4_194_304;

    public ValidateOptionsResult Validate(string? name, DockerRuntimeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();

        if (!string.IsNullOrWhiteSpace(options.Endpoint) && !IsValidEndpoint(options.Endpoint, out var endpointError))
        {
            failures.Add($"{Prefix}{nameof(options.Endpoint)} {endpointError}; got '{options.Endpoint}'.");
        }

        if (options.NetworkMode is not (DockerNetworkMode.Host or DockerNetworkMode.Bridge))
        {
            failures.Add($"{Prefix}{nameof(options.NetworkMode)} must be Host or Bridge; got '{options.NetworkMode}'.");
        }

        if (string.IsNullOrWhiteSpace(options.Network) || options.Network.Any(char.IsWhiteSpace))
        {
            failures.Add($"{Prefix}{nameof(options.Network)} must be a Docker network name; got '{options.Network}'.");
        }

        if (!IPAddress.TryParse(options.PublishAddress, out _))
        {
            failures.Add($"{Prefix}{nameof(options.PublishAddress)} must be an IP address (e.g. 127.0.0.1); got '{options.PublishAddress}'.");
        }

        if (string.IsNullOrWhiteSpace(options.HostAddress) || Uri.CheckHostName(options.HostAddress) == UriHostNameType.Unknown)
        {
            failures.Add($"{Prefix}{nameof(options.HostAddress)} must be an IP address or host name; got '{options.HostAddress}'.");
        }

        if (options.DefaultWorkloadPort is < 1 or > 65535)
        {
            failures.Add($"{Prefix}{nameof(options.DefaultWorkloadPort)} must be a port from 1 to 65535; got '{options.DefaultWorkloadPort.ToString(CultureInfo.InvariantCulture)}'.");
        }

        if (!VPodNames.IsName(options.LabelPrefix))
        {
            failures.Add($"{Prefix}{nameof(options.LabelPrefix)} must be lower-case letters, digits, '.' and '-' (e.g. io.metanode); got '{options.LabelPrefix}'.");
        }

        if (!NamePrefixPattern().IsMatch(options.ContainerNamePrefix ?? string.Empty))
        {
            failures.Add($"{Prefix}{nameof(options.ContainerNamePrefix)} must start with a letter or digit and use letters, digits, '_', '.' and '-'; got '{options.ContainerNamePrefix}'.");
        }

        if (options.PullPolicy is not (DockerPullPolicy.IfNotPresent or DockerPullPolicy.Never or DockerPullPolicy.Always))
        {
            failures.Add($"{Prefix}{nameof(options.PullPolicy)} must be IfNotPresent, Never or Always; got '{options.PullPolicy}'.");
        }

        Duration(options.PullTimeout, nameof(options.PullTimeout), TimeSpan.FromHours(2));
        Duration(options.RequestTimeout, nameof(options.RequestTimeout), TimeSpan.FromMinutes(30));
        Duration(options.RemoveStopTimeout, nameof(options.RemoveStopTimeout), TimeSpan.FromHours(1));
        Duration(options.LogPollInterval, nameof(options.LogPollInterval), TimeSpan.FromMinutes(1));

        if (options.PidsLimit is < 1 or > MaxPidsLimit)
        {
            failures.Add($"{Prefix}{nameof(options.PidsLimit)} must be from 1 to {MaxPidsLimit.ToString(CultureInfo.InvariantCulture)}; got '{options.PidsLimit.ToString(CultureInfo.InvariantCulture)}'.");
        }

        for (var i = 0; i < (options.AllowedBindRoots?.Count ?? 0); i++)
        {
            var root = options.AllowedBindRoots![i];
            if (string.IsNullOrEmpty(root) || !DockerBindPolicy.IsNormalizedAbsolute(root) || (root.Length > 1 && root.EndsWith('/')))
            {
                failures.Add($"{Prefix}{nameof(options.AllowedBindRoots)}:{i.ToString(CultureInfo.InvariantCulture)} must be an absolute, normalized path without NUL (no '.', '..', empty segments or trailing '/'), e.g. /srv/metanode; got '{root?.Replace("\0", "\\0", StringComparison.Ordinal)}'.");
            }
            else if (root == "/")
            {
                failures.Add($"{Prefix}{nameof(options.AllowedBindRoots)}:{i.ToString(CultureInfo.InvariantCulture)} must not be '/': that would let a vPod mount any host path; name the directories vPods may mount.");
            }
        }

        foreach (var (key, registry) in options.Registries)
        {
            var registryKey = $"{Prefix}{nameof(options.Registries)}:{key}";
            if (!VPodNames.IsName(key))
            {
                failures.Add($"{registryKey}: the name must be a lower-case DNS name, as vPods' image pull secrets are; got '{key}'.");
            }

            if (string.IsNullOrWhiteSpace(registry.Server) || registry.Server.Contains('/', StringComparison.Ordinal) || registry.Server.Any(char.IsWhiteSpace))
            {
                failures.Add($"{registryKey}:{nameof(registry.Server)} must be a registry host[:port] such as registry.example.com:5000 or docker.io; got '{registry.Server}'.");
            }

            if (string.IsNullOrEmpty(registry.IdentityToken) && (string.IsNullOrEmpty(registry.Username) || string.IsNullOrEmpty(registry.Password)))
            {
                failures.Add($"{registryKey} needs {nameof(registry.Username)} and {nameof(registry.Password)}, or an {nameof(registry.IdentityToken)}.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);

        void Duration(TimeSpan value, string key, TimeSpan max)
        {
            if (value <= TimeSpan.Zero || value > max)
            {
                failures.Add($"{Prefix}{key} must be more than 0 and at most {max.ToString("c", CultureInfo.InvariantCulture)}; got '{value.ToString("c", CultureInfo.InvariantCulture)}'.");
            }
        }
    }

    /// <summary>Whether <paramref name="endpoint"/> is a Docker Engine address this runtime can use.</summary>
    public static bool IsValidEndpoint(string endpoint, out string error)
    {
        error = string.Empty;
        if (!Uri.TryCreate(endpoint.Trim(), UriKind.Absolute, out var uri))
        {
            error = "must be unix:///path/to/docker.sock or tcp://host:port";
            return false;
        }

        switch (uri.Scheme)
        {
            case "unix" when uri.AbsolutePath.Length > 1:
                return true;
            case "tcp" or "http" or "https" when !string.IsNullOrEmpty(uri.Host) && uri.Port > 0:
                return true;
            default:
                error = "must be unix:///path/to/docker.sock or tcp://host:port";
                return false;
        }
    }

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")]
    private static partial Regex NamePrefixPattern();
}
