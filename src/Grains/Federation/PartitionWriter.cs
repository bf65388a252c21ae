using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MetaNode.VPods;

namespace MetaNode.Grains.Federation;

/// <summary>Where a partition came from, recorded in its manifest.</summary>
public sealed record PartitionDescription(string Dataset, string Partition, int Part, int Parts, ulong Seed);

/// <summary>
/// The files of a vPod's partition in the format workloads read from their data directory, <c>metanode-partition/1</c>:
/// <code>
/// manifest.json  {"format":"metanode-partition/1","dataset":"digits","features":64,"classes":10,"partition":"dirichlet:0.5",
///                 "part":3,"parts":10,"seed":42,"splits":{"train":{"file":"train.csv","rows":144}}}
/// train.csv      compute vPods: one row per line, features then the integer label, no header
/// test.csv       validators: the held-out split, same layout
/// </code>
/// Numbers are written in invariant culture in their shortest round-trip form, lines end with '\n'. The manifest comes last, so a
/// runtime that writes the files in order never shows a workload a manifest naming a file that is not there yet; the same
/// partition always gives the same bytes. The vPod's runtime writes them (<see cref="MetaNode.VPods.IVPodGrain.WriteDataAsync"/>).
/// </summary>
public static class PartitionWriter
{
    public const string Format = "metanode-partition/1";
    public const string ManifestFile = "manifest.json";
    public const string TrainSplit = "train";
    public const string TestSplit = "test";

    /// <summary>The partition's files: the splits given (train.csv, test.csv), then manifest.json.</summary>
    public static VPodDataFiles Files(PartitionDescription description, TabularDataset? train, TabularDataset? test)
    {
        ArgumentNullException.ThrowIfNull(description);
        var reference = train ?? test ?? throw new ArgumentException("A partition needs a train or a test split.", nameof(train));
        if (train is not null && test is not null && (train.Features != test.Features || train.Classes != test.Classes))
        {
            throw new ArgumentException("The train and test splits must have the same features and classes.", nameof(test));
        }

        var files = new List<VPodDataFile>(3);
        var splits = new SortedDictionary<string, SplitEntry>(StringComparer.Ordinal);
        foreach (var (name, split) in new[] { (TrainSplit, train), (TestSplit, test) })
        {
            if (split is null)
            {
                continue;
            }

            var file = name + ".csv";
            files.Add(new VPodDataFile(file, ToCsv(split)));
            splits[name] = new SplitEntry(file, split.Rows);
        }

        var manifest = new Manifest(Format, description.Dataset, reference.Features, reference.Classes, description.Partition, description.Part, description.Parts, description.Seed, splits);
        files.Add(new VPodDataFile(ManifestFile, JsonSerializer.SerializeToUtf8Bytes(manifest, PartitionJson.Default.Manifest)));
        return new VPodDataFiles { Files = files };
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
