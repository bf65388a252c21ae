using System.Globalization;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Kubernetes;

/// <summary>Parses lines of the pod log API asked for with <c>timestamps=true</c>: an RFC 3339 time, a space, the text. Pure.</summary>
public static class KubernetesLogLine
{
    /// <summary>Parses one line; a line without a readable time keeps <paramref name="fallback"/> and its whole text.</summary>
    public static LogLine Parse(string line, DateTimeOffset fallback)
    {
        ArgumentNullException.ThrowIfNull(line);
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        var stamp = space > 0 ? line[..space] : line;
        if (TryParseTimestamp(stamp, out var at))
        {
            return new LogLine(at, LogStream.Stdout, space > 0 ? line[(space + 1)..] : string.Empty);
        }

        return new LogLine(fallback, LogStream.Stdout, line);
    }

    /// <summary>RFC 3339 with up to nine fractional digits (the kubelet writes nanoseconds; .NET keeps 100 ns ticks).</summary>
    public static bool TryParseTimestamp(string text, out DateTimeOffset at)
    {
        at = default;
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0)
        {
            var end = dot + 1;
            while (end < text.Length && char.IsAsciiDigit(text[end]))
            {
                end++;
            }

            if (end - dot - 1 > 7)
            {
                text = text[..(dot + 8)] + text[end..];
            }
        }

        return text.Length >= 20
            && char.IsAsciiDigit(text[0])
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out at);
    }
}
