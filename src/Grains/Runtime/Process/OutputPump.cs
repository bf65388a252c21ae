using System.Buffers;
using System.Text;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// Copies one output pipe of a workload into its log, line by line, until the pipe closes. A pump waiting on a quiet pipe holds
/// only its small read buffer: the line buffer is rented while a line is incomplete (a silo runs two pumps per process vPod).
/// </summary>
internal static class OutputPump
{
    /// <summary>Longer lines are split; a split never cuts a UTF-8 character.</summary>
    public const int MaxLineBytes = 16 * 1024;

    /// <summary>Read size: a pipe read returns what is there, so a large read buffer held by every idle pump buys nothing.</summary>
    private const int ReadBytes = 4 * 1024;

    public static async Task RunAsync(Stream source, LogStream stream, RotatingLogWriter writer, CancellationToken cancellationToken)
    {
        var buffer = new byte[ReadBytes];
        byte[]? line = null;
        var length = 0;
        try
        {
            while (true)
            {
                int read;
                try
                {
                    read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
                {
                    // The pipe was closed under us (runtime shut down): what was read is kept below.
                    break;
                }

                if (read == 0)
                {
                    break;
                }

                line ??= ArrayPool<byte>.Shared.Rent(MaxLineBytes);
                var data = buffer.AsSpan(0, read);
                while (!data.IsEmpty)
                {
                    var newline = data.IndexOf((byte)'\n');
                    var part = newline < 0 ? data : data[..newline];
                    while (!part.IsEmpty)
                    {
                        if (length == MaxLineBytes)
                        {
                            var cut = Utf8Cut(line, length);
                            Emit(writer, stream, line.AsSpan(0, cut));
                            line.AsSpan(cut, length - cut).CopyTo(line);
                            length -= cut;
                        }

                        var n = Math.Min(MaxLineBytes - length, part.Length);
                        part[..n].CopyTo(line.AsSpan(length));
                        length += n;
                        part = part[n..];
                    }

                    if (newline < 0)
                    {
                        break;
                    }

                    Emit(writer, stream, line.AsSpan(0, length));
                    length = 0;
                    data = data[(newline + 1)..];
                }

                writer.Flush();
                if (length == 0)
                {
                    ArrayPool<byte>.Shared.Return(line);
                    line = null;
                }
            }

            if (length > 0)
            {
                Emit(writer, stream, line.AsSpan(0, length));
            }

            writer.Flush();
        }
        finally
        {
            if (line is not null)
            {
                ArrayPool<byte>.Shared.Return(line);
            }
        }
    }

    /// <summary>Where to split a full buffer: before a UTF-8 sequence that is not complete yet.</summary>
    internal static int Utf8Cut(ReadOnlySpan<byte> bytes, int length)
    {
        for (var back = 1; back <= 4 && back <= length; back++)
        {
            var b = bytes[length - back];
            if ((b & 0xC0) == 0x80)
            {
                continue;
            }

            var needed = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            return needed > back ? length - back : length;
        }

        return length;
    }

    private static void Emit(RotatingLogWriter writer, LogStream stream, ReadOnlySpan<byte> bytes)
    {
        if (!bytes.IsEmpty && bytes[^1] == (byte)'\r')
        {
            bytes = bytes[..^1];
        }

        writer.Append(stream, Encoding.UTF8.GetString(bytes));
    }
}
