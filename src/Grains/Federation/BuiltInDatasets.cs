using MetaNode.Federation;

namespace MetaNode.Grains.Federation;

/// <summary>
/// The data sets a job can name instead of a path: <c>digits</c> (UCI optical handwritten digits, 1,797 rows × 64 features, 10
/// classes, shipped as <c>datasets/digits.csv.gz</c> beside the silo) and <c>synthetic</c> (<see cref="SyntheticDatasetGenerator"/>).
/// </summary>
public static class BuiltInDatasets
{
    public const string Digits = "digits";
    public const string Synthetic = "synthetic";
    public const string DirectoryName = "datasets";
    public const string DigitsFile = "digits.csv.gz";

    /// <summary>The shipped digits file: <c>datasets/digits.csv.gz</c> under <paramref name="baseDirectory"/> (default: the application's directory).</summary>
    public static string DigitsPath(string? baseDirectory = null) =>
        Path.Combine(baseDirectory ?? AppContext.BaseDirectory, DirectoryName, DigitsFile);

    public static TabularDataset LoadDigits(string? baseDirectory = null)
    {
        var path = DigitsPath(baseDirectory);
        if (!File.Exists(path))
        {
            throw new InvalidDatasetException($"The built-in digits data set '{path}' is missing; it ships in the project's {DirectoryName}/ folder and is copied next to the build output.");
        }

        return CsvDatasetReader.ReadFile(path, Digits);
    }

    /// <summary>
    /// <c>digits</c>, <c>synthetic</c> (seeded from the job seed) or a CSV file under <see cref="DatasetOptions.Root"/> (see
    /// <see cref="DatasetRoot.Resolve"/>); an upload (<c>sha256:HEX</c>) is read by the job from its grain, not here.
    /// </summary>
    public static TabularDataset Load(string dataset, ulong jobSeed, string? baseDirectory, DatasetOptions datasets)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataset);
        ArgumentNullException.ThrowIfNull(datasets);
        return dataset switch
        {
            Digits => LoadDigits(baseDirectory),
            Synthetic => SyntheticDatasetGenerator.Generate(new SyntheticDatasetOptions { Seed = FederatedSeeds.Derive(jobSeed, FederatedSeeds.SyntheticPurpose) }).Dataset,
            _ when DatasetReferences.TryParseUpload(dataset, out _) => throw new InvalidDatasetException($"'{dataset}' is an upload: it is read from the cluster, not from a file."),
            _ => CsvDatasetReader.ReadFile(DatasetRoot.Resolve(datasets.Root, dataset), DatasetName(dataset), datasets.MaxUploadBytes),
        };
    }

    /// <summary>The name a file's data set gets: its file name without <c>.csv</c>/<c>.gz</c>.</summary>
    public static string DatasetName(string path)
    {
        var file = Path.GetFileName(path);
        foreach (var suffix in new[] { ".csv.gz", ".gz", ".csv" })
        {
            if (file.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                return file[..^suffix.Length];
            }
        }

        return file;
    }

    /// <summary>The name an uploaded data set gets: <c>sha256-</c> and the first 12 hex digits of its hash.</summary>
    public static string UploadName(string hash) => "sha256-" + hash[..Math.Min(12, hash.Length)];
}

/// <summary>The silo's rule for a path a job names: inside the configured root after every link and <c>..</c> is resolved, or refused.</summary>
public static class DatasetRoot
{
    /// <summary>
    /// The real path of <paramref name="path"/> (relative to <paramref name="root"/>), or <see cref="InvalidDatasetException"/> when
    /// there is no root, the path does not exist, or it resolves outside the root. Nothing is opened.
    /// </summary>
    public static string Resolve(string? root, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (string.IsNullOrWhiteSpace(root))
        {
            throw new InvalidDatasetException($"data set '{path}': this silo opens no data set files ({DatasetOptions.SectionName}:{nameof(DatasetOptions.Root)} is not set). Upload the file instead ('metanode-cli job run --dataset PATH' uploads a local file) or name digits or synthetic.");
        }

        var realRoot = DatasetFiles.RealPath(root)
            ?? throw new InvalidDatasetException($"the data set root '{root}' does not exist.");
        var candidate = Path.GetFullPath(Path.Combine(realRoot, path));
        if (!DatasetFiles.IsInside(candidate, realRoot))
        {
            throw new InvalidDatasetException($"data set '{path}' is outside the data set root: name a file below {DatasetOptions.SectionName}:{nameof(DatasetOptions.Root)}.");
        }

        var real = DatasetFiles.RealPath(candidate)
            ?? throw new InvalidDatasetException($"data set file '{path}' does not exist under the data set root.");
        return DatasetFiles.IsInside(real, realRoot)
            ? real
            : throw new InvalidDatasetException($"data set '{path}' resolves (through a link) outside the data set root: name a file below {DatasetOptions.SectionName}:{nameof(DatasetOptions.Root)}.");
    }
}
