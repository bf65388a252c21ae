using System.Formats.Tar;
using System.Globalization;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Docker;

/// <summary>
/// The tar archive that carries data files into a container through the engine's archive API. The archive is extracted at the
/// container's root (<see cref="ExtractPath"/>) and holds each file under the data directory's path, in the order given (a
/// manifest last): the engine creates the directory when the image lacks it, and a volume mounted there receives the files.
/// Entries are regular files with mode 0644, stamped with <c>modified</c>, owned by the container's user
/// (<see cref="OwnerOf"/>); when that user is not root, a first entry makes the data directory itself theirs (mode 0755), so
/// the workload can also write there when the directory is a fresh volume.
/// </summary>
public static class DockerDataArchive
{
    /// <summary>Where the engine extracts the archive in the container.</summary>
    public const string ExtractPath = "/";

    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>
    /// The owner the files get for a container's configured user (<c>Config.User</c>): <c>uid[:gid]</c> when numeric (gid
    /// defaults to uid), else root (an empty user, <c>root</c>, or a user name the engine would look up in the image; root-owned
    /// files with mode 0644 are still readable by any user).
    /// </summary>
    public static (int Uid, int Gid) OwnerOf(string? user)
    {
        var parts = (user ?? string.Empty).Split(':', 2);
        if (!int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var uid))
        {
            return (0, 0);
        }

        return parts.Length == 2 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var gid)
            ? (uid, gid)
            : (uid, uid);
    }

    /// <summary>The entry name of <paramref name="fileName"/> under <paramref name="dataDirectory"/>: <c>/vpod/data</c>, <c>train.csv</c> → <c>vpod/data/train.csv</c>.</summary>
    public static string EntryName(string dataDirectory, string fileName)
    {
        var segments = DirectorySegments(dataDirectory);
        if (VPodDataValidation.NameError(fileName) is { } error)
        {
            throw new InvalidVPodDataException(error);
        }

        return string.Join('/', segments.Append(fileName));
    }

    /// <summary>The archive placing <paramref name="files"/> in <paramref name="dataDirectory"/> (an absolute path in the container).</summary>
    public static byte[] Build(string dataDirectory, VPodDataFiles files, DateTimeOffset modified, (int Uid, int Gid) owner = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (VPodDataValidation.Validate(files) is { Count: > 0 } errors)
        {
            throw new InvalidVPodDataException($"the data files were refused, nothing was written: {string.Join(" ", errors)}");
        }

        var names = files.Files.Select(f => EntryName(dataDirectory, f.Name)).ToList();
        using var output = new MemoryStream((int)Math.Min(int.MaxValue, files.TotalBytes + (files.Files.Count * 2048L) + 1024));
        using (var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true))
        {
            if (owner != (0, 0))
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, string.Join('/', DirectorySegments(dataDirectory)) + "/")
                {
                    Mode = DirectoryMode,
                    Uid = owner.Uid,
                    Gid = owner.Gid,
                    ModificationTime = modified,
                });
            }

            for (var i = 0; i < names.Count; i++)
            {
                using var content = new MemoryStream(files.Files[i].Content, writable: false);
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, names[i])
                {
                    DataStream = content,
                    Mode = FileMode,
                    Uid = owner.Uid,
                    Gid = owner.Gid,
                    ModificationTime = modified,
                });
            }
        }

        return output.ToArray();
    }

    /// <summary>Throws <see cref="InvalidVPodSpecException"/> when <paramref name="dataDirectory"/> is not an absolute path without '.' or '..'.</summary>
    public static void ThrowIfBadDirectory(string dataDirectory) => DirectorySegments(dataDirectory);

    private static string[] DirectorySegments(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        if (!dataDirectory.StartsWith('/'))
        {
            throw new InvalidVPodSpecException($"the data directory '{dataDirectory}' must be an absolute path in the container.");
        }

        var segments = dataDirectory.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Any(s => s is "." or ".."))
        {
            throw new InvalidVPodSpecException($"the data directory '{dataDirectory}' must not contain '.' or '..'.");
        }

        return segments;
    }
}
