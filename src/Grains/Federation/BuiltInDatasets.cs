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

    /// <summary><c>digits</c>, <c>synthetic</c> (seeded from the job seed) or a CSV path.</summary>
    public static TabularDataset Load(string dataset, ulong jobSeed, string? baseDirectory = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataset);
        return dataset switch
        {
            Digits => LoadDigits(baseDirectory),
            Synthetic => SyntheticDatasetGenerator.Generate(new SyntheticDatasetOptions { Seed = FederatedSeeds.Derive(jobSeed, FederatedSeeds.SyntheticPurpose) }).Dataset,
            _ => CsvDatasetReader.ReadFile(dataset),
        };
    }
}
