using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MetaNode.Workload.Learning;

/// <summary>The data directory could not serve a split (no manifest, no such split, or a malformed file); the message says which and where.</summary>
public sealed class PartitionUnavailableException(string message) : Exception(message);

/// <summary>
/// Reads the vPod's partition from its data directory, in the on-disk format <c>metanode-partition/1</c>:
/// <c>manifest.json</c> names the feature and class counts and one CSV file per split (<c>train</c>, <c>test</c>), each row
/// <c>feature,…,feature,label</c> without a header. A split is read once and kept until its file changes.
/// </summary>
public sealed class PartitionDirectory(string path)
{
    public const string Format = "metanode-partition/1";
    public const string ManifestFile = "manifest.json";

    private readonly ConcurrentDictionary<string, (DateTime Written, long Length, LocalSplit Split)> _cache = new(StringComparer.Ordinal);

    public string Path { get; } = path;

    /// <summary>The split's rows (not standardized; callers copy before changing them).</summary>
    public LocalSplit Load(string split)
    {
        ArgumentException.ThrowIfNullOrEmpty(split);
        var manifest = ReadManifest();
        if (!manifest.Splits.TryGetValue(split, out var entry))
        {
            throw new PartitionUnavailableException(
                $"The data directory '{Path}' holds no '{split}' split (it has: {string.Join(", ", manifest.Splits.Keys.Order(StringComparer.Ordinal))}).");
        }

        if (string.IsNullOrEmpty(entry.File) || entry.File.Contains('/', StringComparison.Ordinal) || entry.File.Contains('\\', StringComparison.Ordinal) || entry.File.StartsWith('.'))
        {
            throw new PartitionUnavailableException($"{ManifestFile} in '{Path}': split '{split}' names file '{entry.File}'; it must be a plain file name in the data directory.");
        }

        var file = new FileInfo(System.IO.Path.Combine(Path, entry.File));
        if (!file.Exists)
        {
            throw new PartitionUnavailableException($"The '{split}' split file '{file.FullName}' does not exist.");
        }

        if (_cache.TryGetValue(split, out var cached) && cached.Written == file.LastWriteTimeUtc && cached.Length == file.Length
            && cached.Split.Features == manifest.Features && cached.Split.Classes == manifest.Classes)
        {
            return cached.Split;
        }

        var loaded = ReadCsv(file.FullName, split, manifest.Features, manifest.Classes, entry.Rows);
        _cache[split] = (file.LastWriteTimeUtc, file.Length, loaded);
        return loaded;
    }

    /// <summary>True when a manifest is placed and names <paramref name="split"/> (its file is checked only when the split is loaded).</summary>
    public bool HasSplit(string split)
    {
        ArgumentException.ThrowIfNullOrEmpty(split);
        return File.Exists(System.IO.Path.Combine(Path, ManifestFile)) && ReadManifest().Splits.ContainsKey(split);
    }

    private PartitionManifest ReadManifest()
    {
        var file = System.IO.Path.Combine(Path, ManifestFile);
        if (!File.Exists(file))
        {
            throw new PartitionUnavailableException($"The data directory '{Path}' has no {ManifestFile}: no partition was placed in this vPod yet.");
        }

        PartitionManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(File.ReadAllBytes(file), ManifestJson.Default.PartitionManifest);
        }
        catch (JsonException ex)
        {
            throw new PartitionUnavailableException($"{file} is not valid JSON: {ex.Message}");
        }

        if (manifest is null || manifest.Format != Format)
        {
            throw new PartitionUnavailableException($"{file} has format '{manifest?.Format}'; this workload reads '{Format}'.");
        }

        if (manifest.Features < 1 || manifest.Classes < 1 || manifest.Splits is null)
        {
            throw new PartitionUnavailableException($"{file} must give features ≥ 1, classes ≥ 1 and splits; got features {manifest.Features}, classes {manifest.Classes}.");
        }

        return manifest;
    }

    private static LocalSplit ReadCsv(string file, string split, int features, int classes, int expectedRows)
    {
        var values = new List<double>(Math.Max(expectedRows, 0) * features);
        var labels = new List<int>(Math.Max(expectedRows, 0));
        var lineNumber = 0;
        foreach (var line in File.ReadLines(file))
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            var column = 0;
            foreach (var range in line.AsSpan().Split(','))
            {
                var field = line.AsSpan(range).Trim();
                column++;
                if (column <= features)
                {
                    if (!double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
                    {
                        throw new PartitionUnavailableException($"{file} line {lineNumber}, column {column}: '{field}' is not a finite number.");
                    }

                    values.Add(value);
                }
                else if (column == features + 1)
                {
                    if (!int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out var label) || label >= classes)
                    {
                        throw new PartitionUnavailableException($"{file} line {lineNumber}, column {column}: label '{field}' is not an integer from 0 to {classes - 1}.");
                    }

                    labels.Add(label);
                }
            }

            if (column != features + 1)
            {
                throw new PartitionUnavailableException($"{file} line {lineNumber}: {column} columns; expected {features} features and a label.");
            }
        }

        if (expectedRows >= 0 && labels.Count != expectedRows)
        {
            throw new PartitionUnavailableException($"{file} holds {labels.Count} rows; {ManifestFile} says {expectedRows}.");
        }

        return new LocalSplit(split, features, classes, [.. values], [.. labels]);
    }
}

/// <summary><c>manifest.json</c> of a data directory (format <c>metanode-partition/1</c>).</summary>
public sealed record PartitionManifest(
    [property: JsonPropertyName("format")] string Format,
    [property: JsonPropertyName("features")] int Features,
    [property: JsonPropertyName("classes")] int Classes,
    [property: JsonPropertyName("splits")] Dictionary<string, PartitionSplitEntry> Splits);

public sealed record PartitionSplitEntry(
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("rows")] int Rows);

[JsonSerializable(typeof(PartitionManifest))]
internal sealed partial class ManifestJson : JsonSerializerContext;
