namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// Where the process runtime's root (<see cref="ProcessRuntimeOptions.DataDirectory"/>) lies relative to the silo's data directory.
/// It holds the vPods' key directories, which must not live under the silo's data directory (with its database and the silo's own
/// keys), so a silo puts it beside that directory by default.
/// </summary>
public static class ProcessRuntimeRoot
{
    /// <summary>What is appended to the silo's data directory to name the default root.</summary>
    public const string SiblingSuffix = "-vpods";

    /// <summary>
    /// The default root of a silo whose data directory is <paramref name="siloDataDirectory"/>: its full path with
    /// <see cref="SiblingSuffix"/> appended, a sibling of it (<c>.metanode</c> → <c>{cwd}/.metanode-vpods</c>,
    /// <c>/var/lib/metanode</c> → <c>/var/lib/metanode-vpods</c>).
    /// </summary>
    public static string DefaultFor(string siloDataDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(siloDataDirectory);
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(siloDataDirectory));
        if (string.Equals(Path.GetPathRoot(full), full, StringComparison.Ordinal))
        {
            throw new ArgumentException(
                $"MetaNode:DataDirectory '{siloDataDirectory}' is a file-system root, which has no sibling for the vPods' directories: use a directory below it, or set {ProcessRuntimeOptions.SectionName}:{nameof(ProcessRuntimeOptions.DataDirectory)}.",
                nameof(siloDataDirectory));
        }

        return full + SiblingSuffix;
    }

    /// <summary>Whether <paramref name="path"/> is <paramref name="directory"/> or lies below it (full paths compared by their text; links are not followed).</summary>
    public static bool IsInside(string path, string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var candidate = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var parent = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        if (string.Equals(candidate, parent, StringComparison.Ordinal))
        {
            return true;
        }

        var prefix = Path.EndsInDirectorySeparator(parent) ? parent : parent + Path.DirectorySeparatorChar;
        return candidate.StartsWith(prefix, StringComparison.Ordinal);
    }
}
