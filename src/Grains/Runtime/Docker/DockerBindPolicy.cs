using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Docker;

/// <summary>
/// Which host paths a docker vPod may bind-mount: only paths under one of <see cref="DockerRuntimeOptions.AllowedBindRoots"/>
/// (none by default, so no host path at all), never the engine's socket. A source must be a normalized absolute path (no
/// <c>.</c>, <c>..</c> or empty segments); the symbolic links of its existing part are resolved before the comparison, so
/// <c>/allowed/link-to-root</c> is refused. Named volumes are not host paths and are allowed, except the runtime's own
/// (named with <see cref="DockerRuntimeOptions.ContainerNamePrefix"/>: another vPod's key or storage).
/// </summary>
public static class DockerBindPolicy
{
    /// <summary>Sockets of an engine no vPod may bind, whatever the allowed roots.</summary>
    public static readonly IReadOnlyList<string> EngineSockets = ["/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock"];

    private const string OptionKey = DockerRuntimeOptions.SectionName + ":" + nameof(DockerRuntimeOptions.AllowedBindRoots);

    /// <summary>
    /// Why the bind mount of <paramref name="source"/> is refused, or null when it lies under an allowed root.
    /// <paramref name="resolve"/> maps an absolute path to its real path (symbolic links resolved);
    /// <paramref name="denied"/> lists paths refused even under an allowed root (the engine's sockets).
    /// </summary>
    public static string? Check(string source, IReadOnlyList<string> allowedRoots, IEnumerable<string> denied, Func<string, string> resolve)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(allowedRoots);
        ArgumentNullException.ThrowIfNull(denied);
        ArgumentNullException.ThrowIfNull(resolve);
        if (!IsNormalizedAbsolute(source))
        {
            return $"host path '{source}' must be a normalized absolute path (no '.', '..' or empty segments) to be bind-mounted.";
        }

        if (allowedRoots.Count == 0)
        {
            return $"host path '{source}' cannot be bind-mounted: this silo allows no host bind mounts ({OptionKey} is empty); use a named volume or add a root to {OptionKey}.";
        }

        var real = resolve(source);
        if (denied.Select(resolve).Any(d => string.Equals(d, real, StringComparison.Ordinal)))
        {
            return $"host path '{source}' is the container engine's socket and is never bind-mounted.";
        }

        if (allowedRoots.Select(resolve).Any(root => IsUnder(real, root)))
        {
            return null;
        }

        var resolved = string.Equals(real, source, StringComparison.Ordinal) ? string.Empty : $" (it resolves to '{real}')";
        return $"host path '{source}'{resolved} is outside the roots allowed for bind mounts ({OptionKey}: {string.Join(", ", allowedRoots)}).";
    }

    /// <summary>
    /// Throws <see cref="InvalidVPodSpecException"/> for the first volume of <paramref name="spec"/> that is the runtime's own
    /// named volume, or a host path <see cref="Check"/> refuses.
    /// </summary>
    public static void ThrowIfRefused(string vpodId, VPodSpec spec, DockerRuntimeOptions options, IEnumerable<string> denied, Func<string, string>? resolve = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        var deniedPaths = denied.ToList();
        foreach (var volume in spec.Volumes.Where(v => !DockerContainerSpec.IsHostPath(v.Source)))
        {
            if (volume.Source.StartsWith(options.ContainerNamePrefix, StringComparison.Ordinal))
            {
                throw new InvalidVPodSpecException(
                    $"vPod '{vpodId}': volume '{volume.Source}:{volume.Target}': named volumes starting with '{options.ContainerNamePrefix}' are the runtime's own (each vPod's key and storage volumes) and cannot be mounted by a vPod; choose another name.");
            }
        }

        foreach (var volume in spec.Volumes.Where(v => DockerContainerSpec.IsHostPath(v.Source)))
        {
            if (Check(volume.Source, options.AllowedBindRoots, deniedPaths, resolve ?? RealPath) is { } error)
            {
                throw new InvalidVPodSpecException($"vPod '{vpodId}': volume '{volume.Source}:{volume.Target}': {error}");
            }
        }
    }

    /// <summary>An absolute path with no <c>.</c>, <c>..</c> or empty segments and no NUL (a trailing '/' is allowed).</summary>
    public static bool IsNormalizedAbsolute(string path) =>
        path.StartsWith('/')
        && !path.Contains('\0', StringComparison.Ordinal)
        && (path == "/" || path.TrimEnd('/').Split('/')[1..].All(s => s is not ("" or "." or "..")));

    /// <summary>Whether <paramref name="path"/> is <paramref name="root"/> or lies below it (whole segments only).</summary>
    public static bool IsUnder(string path, string root)
    {
        var trimmedRoot = root.TrimEnd('/');
        var trimmedPath = path.TrimEnd('/');
        return trimmedRoot.Length == 0
            || string.Equals(trimmedPath, trimmedRoot, StringComparison.Ordinal)
            || trimmedPath.StartsWith(trimmedRoot + "/", StringComparison.Ordinal);
    }

    /// <summary>
    /// The real path of an absolute path on this machine, as realpath(3) gives it: each symbolic link along it is replaced by
    /// its target (relative targets from the link's directory), <c>..</c> steps up from the real directory; segments that do
    /// not exist are kept as they are. Throws <see cref="InvalidVPodSpecException"/> after 40 links (a loop).
    /// </summary>
    public static string RealPath(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var pending = new LinkedList<string>(path.Split('/', StringSplitOptions.RemoveEmptyEntries));
        var current = "/";
        var links = 0;
        while (pending.First is { } first)
        {
            var segment = first.Value;
            pending.RemoveFirst();
            if (segment == ".")
            {
                continue;
            }

            if (segment == "..")
            {
                current = Path.GetDirectoryName(current) ?? "/";
                continue;
            }

            var next = current == "/" ? "/" + segment : current + "/" + segment;
            if (LinkTarget(next) is not { } target)
            {
                current = next;
                continue;
            }

            if (++links > 40)
            {
                throw new InvalidVPodSpecException($"host path '{path}' has too many levels of symbolic links.");
            }

            if (target.StartsWith('/'))
            {
                current = "/";
            }

            foreach (var part in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse())
            {
                pending.AddFirst(part);
            }
        }

        return current;
    }

    private static string? LinkTarget(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
