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
        if (Rfc3339.TryParse(stamp, out var at))
        {
            return new LogLine(at, LogStream.Stdout, space > 0 ? line[(space + 1)..] : string.Empty);
        }

        return new LogLine(fallback, LogStream.Stdout, line);
    }
}
