using MetaNode.VPods;

namespace MetaNode.Grains.Runtime;

/// <summary>
/// Writes data files into a directory on this machine: each to a hidden temporary name in the same directory, then renamed
/// over its final name, in the order given. A reader never sees half a file, and one that finds the last file (a manifest)
/// finds the ones before it.
/// </summary>
public static class DataDirectoryWriter
{
    /// <summary>Writes <paramref name="files"/> into <paramref name="directory"/> (created when missing).</summary>
    /// <param name="prepare">Called with each written temporary file before it takes its name (e.g. to give it to the workload's uid).</param>
    public static void Write(string directory, VPodDataFiles files, Action<string>? prepare = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(files);
        if (VPodDataValidation.Validate(files) is { Count: > 0 } errors)
        {
            throw new InvalidVPodDataException($"the data files were refused, nothing was written: {string.Join(" ", errors)}");
        }

        Directory.CreateDirectory(directory);
        foreach (var file in files.Files)
        {
            var path = Path.Combine(directory, file.Name);
            var temporary = Path.Combine(directory, $".{file.Name}.{Guid.NewGuid():N}.tmp");
            try
            {
                // CreateNew: never through a link the workload may have planted in its own directory.
                using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    stream.Write(file.Content);
                }

                prepare?.Invoke(temporary);
                File.Move(temporary, path, overwrite: true);
            }
            catch
            {
                File.Delete(temporary);
                throw;
            }
        }
    }
}
