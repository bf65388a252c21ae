using System.Runtime.CompilerServices;
using System.Text;
using Docker.DotNet;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Docker;

/// <summary>
/// Turns the engine's multiplexed log stream (requested with timestamps) into <see cref="LogLine"/>s: frames are demultiplexed
/// by <see cref="MultiplexedStream"/>, split into lines per stream, and each line's RFC 3339 timestamp becomes the line's time.
/// </summary>
public static class DockerLogLines
{
    /// <summary>Parses one line as the engine writes it with timestamps: <c>2026-01-31T12:00:00.123456789Z text</c>.</summary>
    public static bool TryParse(string raw, LogStream stream, out LogLine line)
    {
        ArgumentNullException.ThrowIfNull(raw);
        line = null!;
        var space = raw.IndexOf(' ', StringComparison.Ordinal);
        var stamp = space < 0 ? raw : raw[..space];
        if (!Rfc3339.TryParse(stamp, out var at))
        {
            return false;
        }

        var text = space < 0 ? string.Empty : raw[(space + 1)..];
        line = new LogLine(at, stream, text.TrimEnd('\r'));
        return true;
    }

    /// <summary>Reads <paramref name="stream"/> to its end (or cancellation), yielding each complete line of stdout and stderr in order.</summary>
    public static async IAsyncEnumerable<LogLine> ReadAsync(MultiplexedStream stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var buffer = new byte[16 * 1024];
        var pending = new Dictionary<LogStream, MemoryStream>
        {
            [LogStream.Stdout] = new(),
            [LogStream.Stderr] = new(),
        };
        while (true)
        {
            var result = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken).ConfigureAwait(false);
            if (result.EOF)
            {
                break;
            }

            var target = result.Target == MultiplexedStream.TargetStream.StandardError ? LogStream.Stderr : LogStream.Stdout;
            var partial = pending[target];
            var start = 0;
            for (var i = 0; i < result.Count; i++)
            {
                if (buffer[i] != (byte)'\n')
                {
                    continue;
                }

                partial.Write(buffer, start, i - start);
                if (TakeLine(partial, target) is { } line)
                {
                    yield return line;
                }

                start = i + 1;
            }

            partial.Write(buffer, start, result.Count - start);
        }

        foreach (var (target, partial) in pending)
        {
            if (partial.Length > 0 && TakeLine(partial, target) is { } line)
            {
                yield return line;
            }
        }
    }

    private static LogLine? TakeLine(MemoryStream partial, LogStream target)
    {
        var raw = Encoding.UTF8.GetString(partial.GetBuffer(), 0, (int)partial.Length);
        partial.SetLength(0);
        return TryParse(raw, target, out var line) ? line : null;
    }
}
