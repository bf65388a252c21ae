namespace MetaNode.Grains.Runtime.Process;

/// <summary>Which cgroup interface the machine gives the silo.</summary>
public enum CgroupVersion
{
    None = 0,
    V1 = 1,
    V2 = 2,
}

/// <summary>
/// Where the silo may make its vPods' cgroups: below its own cgroup, in a <c>metanode</c> child. On cgroup v1 one directory per
/// controller (memory, pids, cpu), each in its own hierarchy; on cgroup v2 one directory in the unified hierarchy.
/// <see cref="Detect"/> is a pure function of <c>/proc/self/mountinfo</c> and <c>/proc/self/cgroup</c>.
/// </summary>
public sealed record CgroupHierarchy(CgroupVersion Version, IReadOnlyDictionary<string, string> Parents, string? Problem = null)
{
    /// <summary>The controllers a vPod's limits need.</summary>
    public static readonly IReadOnlyList<string> Controllers = ["memory", "pids", "cpu"];

    /// <summary>The directory, below the silo's own cgroup, that holds one cgroup per vPod.</summary>
    public const string ChildName = "metanode";

    public static CgroupHierarchy Unavailable(string problem) => new(CgroupVersion.None, new Dictionary<string, string>(), problem);

    /// <summary>
    /// Finds the hierarchies from the mount table and the process's own cgroup membership. Cgroup v1 wins when it mounts all of
    /// <see cref="Controllers"/> (a hybrid machine binds them there, leaving the unified hierarchy without controllers).
    /// </summary>
    public static CgroupHierarchy Detect(string mountInfo, string selfCgroup)
    {
        ArgumentNullException.ThrowIfNull(mountInfo);
        ArgumentNullException.ThrowIfNull(selfCgroup);
        var membership = ParseMembership(selfCgroup);
        var mounts = ParseMounts(mountInfo);

        var v1 = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var controller in Controllers)
        {
            var mount = mounts.FirstOrDefault(m => m.Type == "cgroup" && m.SuperOptions.Contains(controller));
            if (mount is null || !membership.TryGetValue(controller, out var own) || Relative(own, mount.Root) is not { } relative)
            {
                break;
            }

            v1[controller] = Join(mount.MountPoint, relative, ChildName);
        }

        if (v1.Count == Controllers.Count)
        {
            return new CgroupHierarchy(CgroupVersion.V1, v1);
        }

        var unified = mounts.FirstOrDefault(m => m.Type == "cgroup2");
        if (unified is not null && membership.TryGetValue(string.Empty, out var path) && Relative(path, unified.Root) is { } unifiedRelative)
        {
            var parent = Join(unified.MountPoint, unifiedRelative, ChildName);
            return new CgroupHierarchy(CgroupVersion.V2, Controllers.ToDictionary(static c => c, _ => parent, StringComparer.Ordinal));
        }

        var missing = Controllers.FirstOrDefault(c => !v1.ContainsKey(c)) ?? Controllers[0];
        return Unavailable($"no cgroup v2 hierarchy and no cgroup v1 '{missing}' controller the silo belongs to is mounted");
    }

    /// <summary>The v2 directory the silo's own cgroup is (the parent of <see cref="ChildName"/>).</summary>
    public string? OwnV2 => Version == CgroupVersion.V2 ? Path.GetDirectoryName(Parents["memory"]) : null;

    private static Dictionary<string, string> ParseMembership(string selfCgroup)
    {
        // "hierarchy-id:controller,controller:/path"; the v2 line is "0::/path" (empty controller list, keyed by "").
        var membership = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in selfCgroup.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(':', 3);
            if (parts.Length != 3)
            {
                continue;
            }

            if (parts[1].Length == 0)
            {
                membership[string.Empty] = parts[2];
                continue;
            }

            foreach (var controller in parts[1].Split(','))
            {
                membership[controller] = parts[2];
            }
        }

        return membership;
    }

    private static List<Mount> ParseMounts(string mountInfo)
    {
        // "id parent major:minor root mountpoint options [optional...] - fstype source superoptions"
        var mounts = new List<Mount>();
        foreach (var line in mountInfo.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split(' ');
            var separator = Array.IndexOf(fields, "-");
            if (fields.Length < 5 || separator < 5 || separator + 3 >= fields.Length)
            {
                continue;
            }

            var type = fields[separator + 1];
            if (type is not ("cgroup" or "cgroup2"))
            {
                continue;
            }

            var superOptions = fields[separator + 3].Split(',').ToHashSet(StringComparer.Ordinal);
            mounts.Add(new Mount(Unescape(fields[3]), Unescape(fields[4]), type, superOptions));
        }

        return mounts;
    }

    /// <summary>The process's cgroup path below a mount whose root is <paramref name="mountRoot"/>; null when the mount does not reach it.</summary>
    private static string? Relative(string path, string mountRoot)
    {
        if (mountRoot == "/")
        {
            return path;
        }

        if (path == mountRoot)
        {
            return "/";
        }

        return path.StartsWith(mountRoot + "/", StringComparison.Ordinal) ? path[mountRoot.Length..] : null;
    }

    private static string Join(string mountPoint, string relative, string child) =>
        Path.Join(mountPoint, relative.Trim('/'), child).Replace("//", "/", StringComparison.Ordinal);

    /// <summary>mountinfo escapes space, tab, newline and backslash as three octal digits.</summary>
    private static string Unescape(string field) =>
        field.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
            .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);

    private sealed record Mount(string Root, string MountPoint, string Type, HashSet<string> SuperOptions);
}
