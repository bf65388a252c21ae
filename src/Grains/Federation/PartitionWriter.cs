using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MetaNode.Grains.Federation;

/// <summary>Where a partition came from, recorded in its manifest.</summary>
public sealed record PartitionDescription(string Dataset, string Partition, int Part, int Parts, ulong Seed);

/// <summary>
/// Writes a vPod's data directory in the format workloads read, <c>metanode-partition/1</c>:
/// <code>
/// manifest.json  {"format":"metanode-partition/1","dataset":"digits","features":64,"classes":10,"partition":"dirichlet:0.5",
///                 "part":3,"parts":10,"seed":42,"splits":{"train":{"file":"train.csv","rows":144}}}
/// train.csv      compute vPods: one row per line, features then the integer label, no header
/// test.csv       validators: the held-out split, same layout
/// </code>
/// Numbers are written in invariant culture in their shortest round-trip form, lines end with '\n'. Files are written to a
/// temporary name and renamed, the manifest last, so a workload never reads half a partition; writing the same partition again
/// gives the same bytes.
/// </summary>
public static class PartitionWriter
{
    public const string Format = "metanode-partition/1";
    public const string ManifestFile = "manifest.json";
    public const string TrainSplit = "train";
    public const string TestSplit = "test";

    public static void Write(string directory, PartitionDescription description, TabularDataset? train, TabularDataset? test)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(description);
        var reference = train ?? test ?? throw new ArgumentException("A partition needs a train or a test split.", nameof(train));
        if (train is not null && test is not null && (train.Features != test.Features || train.Classes != test.Classes))
        {
            throw new ArgumentException("The train and test splits must have the same features and classes.", nameof(test));
        }

        Directory.CreateDirectory(directory);
        var splits = new SortedDictionary<string, SplitEntry>(StringComparer.Ordinal);
        foreach (var (name, split) in new[] { (TrainSplit, train), (TestSplit, test) })
        {
            var file = name + ".csv";
            var path = Path.Combine(directory, file);
            if (split is null)
            {
                File.Delete(path);
                continue;
            }

            WriteAtomically(path, ToCsv(split));
            splits[name] = new SplitEntry(file, split.Rows);
        }

        var manifest = new Manifest(Format, description.Dataset, reference.Features, reference.Classes, description.Partition, description.Part, description.Parts, description.Seed, splits);
        WriteAtomically(Path.Combine(directory, ManifestFile), JsonSerializer.SerializeToUtf8Bytes(manifest, PartitionJson.Default.Manifest));
    }

    public static byte[] ToCsv(TabularDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var text = new StringBuilder(data.Rows * data.Features * 4);
        for (var row = 0; row < data.Rows; row++)
        {
            foreach (var value in data.Row(row))
            {
                text.Append(value.ToString("R", CultureInfo.InvariantCulture)).Append(',');
            }

            text.Append(data.Labels[row].ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        var temporary = path + ".tmp";
        File.WriteAllBytes(temporary, bytes);
        File.Move(temporary, path, overwrite: true);
    }

    internal sealed record SplitEntry(
        [property: JsonPropertyName("file")] string File,
        [property: JsonPropertyName("rows")] int Rows);

    internal sealed record Manifest(
        [property: JsonPropertyName("format")] string Format,
        [property: JsonPropertyName("dataset")] string Dataset,
        [property: JsonPropertyName("features")] int Features,
        [property: JsonPropertyName("classes")] int Classes,
        [property: JsonPropertyName("partition")] string Partition,
        [property: JsonPropertyName("part")] int Part,
        [property: JsonPropertyName("parts")] int Parts,
        [property: JsonPropertyName("seed")] ulong Seed,
        [property: JsonPropertyName("splits")] SortedDictionary<string, SplitEntry> Splits);
}

[JsonSerializable(typeof(PartitionWriter.Manifest))]
internal sealed partial class PartitionJson : JsonSerializerContext;
