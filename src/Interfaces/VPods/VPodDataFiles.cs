namespace MetaNode.VPods;

/// <summary>One file for a vPod's data directory: a plain name (no directories) and its bytes.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.VPods.VPodDataFile")]
public sealed record VPodDataFile(
    [property: Id(0)] string Name,
    [property: Id(1)] byte[] Content);

/// <summary>
/// Files to place in a vPod's data directory (where its workload reads <c>METANODE_DATA_DIR</c>), written in list order:
/// a job puts its manifest last, so a workload that finds the manifest finds the files it names.
/// </summary>
[GenerateSerializer, Immutable, Alias("MetaNode.VPods.VPodDataFiles")]
public sealed record VPodDataFiles
{
    [Id(0)] public IReadOnlyList<VPodDataFile> Files { get; init; } = [];

    /// <summary>The bytes of every file together.</summary>
    public long TotalBytes => Files.Sum(f => (long)(f.Content?.Length ?? 0));
}

/// <summary>The rules a set of data files must meet before any of it is written.</summary>
public static class VPodDataValidation
{
    /// <summary>The most bytes one write may carry (all files together).</summary>
    public const long MaxTotalBytes = 64L * 1024 * 1024;

    /// <summary>The most files one write may carry.</summary>
    public const int MaxFiles = 64;

    /// <summary>The longest file name (characters).</summary>
    public const int MaxNameLength = 128;

    /// <summary>Every problem with <paramref name="files"/>; empty when it may be written.</summary>
    public static IReadOnlyList<string> Validate(VPodDataFiles files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var errors = new List<string>();
        if (files.Files is null || files.Files.Count == 0)
        {
            errors.Add("no files to write: give at least one.");
            return errors;
        }

        if (files.Files.Count > MaxFiles)
        {
            errors.Add($"{files.Files.Count} files is too many: write at most {MaxFiles} at once.");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in files.Files)
        {
            if (file is null)
            {
                errors.Add("a file is missing (null).");
                continue;
            }

            if (NameError(file.Name) is { } error)
            {
                errors.Add(error);
            }
            else if (!seen.Add(file.Name))
            {
                errors.Add($"file name '{file.Name}' is given twice.");
            }

            if (file.Content is null)
            {
                errors.Add($"file '{file.Name}' has no content (null); an empty file is an empty array.");
            }
        }

        var total = files.TotalBytes;
        if (total > MaxTotalBytes)
        {
            errors.Add($"the files hold {total} bytes, more than the {MaxTotalBytes} bytes one write may carry.");
        }

        return errors;
    }

    /// <summary>Why <paramref name="name"/> cannot name a file in a data directory, or null when it can.</summary>
    public static string? NameError(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "a file name is empty.";
        }

        if (name.Length > MaxNameLength)
        {
            return $"file name '{name[..16]}…' is {name.Length} characters long: use at most {MaxNameLength}.";
        }

        if (name is "." or "..")
        {
            return $"file name '{name}' is not a file: use a plain name such as 'train.csv'.";
        }

        if (name.Contains('/', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal))
        {
            return $"file name '{name}' contains a path separator: use a plain name, the file lands in the vPod's data directory.";
        }

        if (name.Any(char.IsControl))
        {
            return $"file name '{name.Replace("\0", "\\0", StringComparison.Ordinal)}' contains a control character.";
        }

        return null;
    }

    /// <summary>Throws <see cref="InvalidVPodDataException"/> listing every problem; nothing has been written then.</summary>
    public static void ThrowIfInvalid(string vpodId, VPodDataFiles files)
    {
        var errors = Validate(files);
        if (errors.Count > 0)
        {
            throw new InvalidVPodDataException($"vPod '{vpodId}': the data files were refused, nothing was written: {string.Join(" ", errors)}");
        }
    }
}
