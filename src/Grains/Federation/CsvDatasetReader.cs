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

    /// <summary>Reads a regular file of at most <paramref name="maxBytes"/> (its CSV text too, when it is gzip); anything else is refused before it is read.</summary>
    public static TabularDataset ReadFile(string path, string? name = null, long maxBytes = DatasetFiles.DefaultMaxBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var bytes = DatasetFiles.ReadFile(path, maxBytes);
        return Read(new MemoryStream(bytes, writable: false), path, name ?? BuiltInDatasets.DatasetName(path), maxBytes);
    }

    /// <summary>
    /// Reads a seekable stream (a file); <paramref name="source"/> names it in errors. The CSV text (after gzip decompression) may
    /// be at most <paramref name="maxTextBytes"/>: a small gzip file that inflates without end is refused at the limit.
    /// </summary>
    public static TabularDataset Read(Stream stream, string source, string name, long maxTextBytes = DatasetFiles.DefaultMaxBytes)
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
        using var input = new LimitedReadStream(isGzip ? new GZipStream(buffered, CompressionMode.Decompress) : buffered, maxTextBytes, source);
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

    /// <summary>Hands over at most a limit of bytes, then refuses the data set instead of reading on.</summary>
    private sealed class LimitedReadStream(Stream inner, long limit, string source) : Stream
    {
        private long _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = inner.Read(buffer[..(int)Math.Min(buffer.Length, limit + 1 - _read)]);
            _read += n;
            return _read > limit
                ? throw new InvalidDatasetException($"{source}: the data set's CSV text is larger than the limit of {limit} bytes; reading stopped there.")
                : n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    private static bool IsNumber(string field) =>
        double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
}
