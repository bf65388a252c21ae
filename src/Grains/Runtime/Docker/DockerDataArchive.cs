using System.Formats.Tar;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Docker;

/// <summary>
/// The tar archive that carries data files into a container through the engine's archive API. The archive is extracted at the
/// container's root (<see cref="ExtractPath"/>) and holds each file under the data directory's path, in the order given (a
/// manifest last): the engine creates the directory when the image lacks it, and a volume mounted there receives the files.
/// Entries are regular files owned by root with mode 0644, stamped with <c>modified</c>.
/// </summary>
public static class DockerDataArchive
{
    /// <summary>Where the engine extracts the archive in the container.</summary>
    public const string ExtractPath = "/";

    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

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
    public static byte[] Build(string dataDirectory, VPodDataFiles files, DateTimeOffset modified)
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
            for (var i = 0; i < names.Count; i++)
            {
                using var content = new MemoryStream(files.Files[i].Content, writable: false);
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, names[i])
                {
                    DataStream = content,
                    Mode = FileMode,
                    Uid = 0,
                    Gid = 0,
                    ModificationTime = modified,
                });
            }
        }

        return output.ToArray();
    }

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
