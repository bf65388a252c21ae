using System.Globalization;
using System.IO.Compression;
using MetaNode.Federation;

namespace MetaNode.Grains.Federation;

/// <summary>
/// Reads a labelled numeric CSV: each row <c>feature,…,feature,label</c> with finite numbers (invariant culture, '.' decimals)
/// and a non-negative integer label last. The first non-empty line is a header when any of its fields is not a number. Blank
/// lines are skipped; every row must have the first row's column count. A gzip file (by its magic bytes) is decompressed.
/// Problems throw <see cref="InvalidDatasetException"/> naming the source, line and column.
/// </summary>
public static class CsvDatasetReader
{
    public const int MaxClasses = 10_000;

    public static TabularDataset ReadFile(string path, string? name = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new InvalidDatasetException($"Data set file '{path}' does not exist.");
        }

        using var stream = File.OpenRead(path);
        return Read(stream, path, name ?? DatasetName(path));
    }

    /// <summary>Reads a seekable stream (a file); <paramref name="source"/> names it in errors.</summary>
    public static TabularDataset Read(Stream stream, string source, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek)
        {
            throw new ArgumentException("The stream must be seekable (its first bytes tell whether it is gzip).", nameof(stream));
        }

        var buffered = new BufferedStream(stream);
        Span<byte> magic = stackalloc byte[2];
        var peeked = buffered.Read(magic);
        buffered.Seek(0, SeekOrigin.Begin);
        var isGzip = peeked == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        using var input = isGzip ? new GZipStream(buffered, CompressionMode.Decompress) : (Stream)buffered;
        using var reader = new StreamReader(input);
        try
        {
            return Parse(reader, source, name);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDatasetException($"{source}: the gzip data is corrupt ({ex.Message}).");
        }
    }

    public static TabularDataset Parse(TextReader reader, string source, string name)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var values = new List<double>();
        var labels = new List<int>();
        var columns = 0;
        var lineNumber = 0;
        var fields = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            fields.Clear();
            foreach (var field in line.Split(','))
            {
                fields.Add(field.Trim());
            }

            if (columns == 0)
            {
                if (fields.Count < 2)
                {
                    throw new InvalidDatasetException($"{source} line {lineNumber}: {fields.Count} column; a row needs at least one feature and a label.");
                }

                columns = fields.Count;
                if (fields.Any(f => !IsNumber(f)))
                {
                    continue; // a header
                }
            }

            if (fields.Count != columns)
            {
                throw new InvalidDatasetException($"{source} line {lineNumber}: {fields.Count} columns; the first row has {columns}.");
            }

            for (var c = 0; c < columns - 1; c++)
            {
                if (!double.TryParse(fields[c], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
                {
                    throw new InvalidDatasetException($"{source} line {lineNumber}, column {c + 1}: '{fields[c]}' is not a finite number.");
                }

                values.Add(value);
            }

            var labelText = fields[^1];
            if (!int.TryParse(labelText, NumberStyles.None, CultureInfo.InvariantCulture, out var label) || label >= MaxClasses)
            {
                throw new InvalidDatasetException($"{source} line {lineNumber}, column {columns}: label '{labelText}' is not an integer from 0 to {MaxClasses - 1}.");
            }

            labels.Add(label);
        }

        if (labels.Count == 0)
        {
            throw new InvalidDatasetException($"{source} holds no data rows.");
        }

        return new TabularDataset(name, columns - 1, [.. values], [.. labels]);
    }

    private static bool IsNumber(string field) =>
        double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    private static string DatasetName(string path)
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
}
