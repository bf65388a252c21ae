using System.Globalization;
using System.Text;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// The line format of <c>vpod.log</c>: <c>{capture time, UTC, 7 fraction digits} {stdout|stderr} {text}\n</c>, e.g.
/// <c>2026-11-29T23:59:01.1234567Z stdout listening on 8080</c>. The timestamp has a fixed width of 28 characters and is
/// strictly increasing within a vPod's files, so it also identifies a line (and the first line identifies a file).
/// The text is the workload's output as UTF-8 without its line terminator; it never holds <c>\n</c>.
/// </summary>
internal static class ProcessLogFormat
{
    public const string LiveFileName = "vpod.log";
    public const int TimestampLength = 28;

    private const string TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";
    private const string StdoutName = "stdout";
    private const string StderrName = "stderr";

    public static string RotatedFileName(int index) => $"{LiveFileName}.{index.ToString(CultureInfo.InvariantCulture)}";

    public static byte[] Format(DateTime utcTimestamp, LogStream stream, string text)
    {
        var line = string.Concat(
            utcTimestamp.ToString(TimestampFormat, CultureInfo.InvariantCulture),
            " ",
            stream == LogStream.Stderr ? StderrName : StdoutName,
            " ",
            text,
            "\n");
        return Encoding.UTF8.GetBytes(line);
    }

    /// <summary>Parses one line without its <c>\n</c>; null when it is not in the format (e.g. a file cut short by a crash).</summary>
    public static LogLine? Parse(ReadOnlySpan<byte> line)
    {
        // timestamp, space, six-letter stream name, space: 36 bytes before the text.
        const int textStart = TimestampLength + 1 + 6 + 1;
        if (line.Length < textStart - 1 || line[TimestampLength] != (byte)' ')
        {
            return null;
        }

        if (!TryParseTimestamp(line[..TimestampLength], out var timestamp))
        {
            return null;
        }

        var name = line.Slice(TimestampLength + 1, 6);
        LogStream stream;
        if (name.SequenceEqual("stdout"u8))
        {
            stream = LogStream.Stdout;
        }
        else if (name.SequenceEqual("stderr"u8))
        {
            stream = LogStream.Stderr;
        }
        else
        {
            return null;
        }

        if (line.Length == textStart - 1)
        {
            return new LogLine(timestamp, stream, string.Empty);
        }

        if (line[textStart - 1] != (byte)' ')
        {
            return null;
        }

        return new LogLine(timestamp, stream, Encoding.UTF8.GetString(line[textStart..]));
    }

    public static bool TryParseTimestamp(ReadOnlySpan<byte> bytes, out DateTimeOffset timestamp)
    {
        timestamp = default;
        if (bytes.Length != TimestampLength)
        {
            return false;
        }

        Span<char> chars = stackalloc char[TimestampLength];
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] > 0x7F)
            {
                return false;
            }

            chars[i] = (char)bytes[i];
        }

        if (!DateTime.TryParseExact(chars, TimestampFormat, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var utc))
        {
            return false;
        }

        timestamp = new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc));
        return true;
    }
}
