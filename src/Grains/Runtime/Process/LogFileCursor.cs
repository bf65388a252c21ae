using Microsoft.Win32.SafeHandles;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// Reads complete lines of one open log file from where it last stopped. A trailing line without its <c>\n</c> (still being
/// written) is held back until the rest arrives. The file stays readable after it is renamed by a rotation.
/// </summary>
internal sealed class LogFileCursor : IDisposable
{
    private const int ChunkSize = 64 * 1024;

    // A "line" longer than this without a newline is not ours (a damaged file): it is dropped.
    private const int MaxPendingBytes = 1024 * 1024;

    private readonly SafeFileHandle _handle;
    private readonly byte[] _chunk = new byte[ChunkSize];
    private byte[] _pending = new byte[4096];
    private int _pendingLength;
    private bool _discarding;
    private long _position;

    private LogFileCursor(SafeFileHandle handle)
    {
        _handle = handle;
    }

    /// <summary>The first bytes of the file (its first line's timestamp), which identify it across renames; null while shorter.</summary>
    public byte[]? Identity { get; private set; }

    /// <summary>Bytes read so far, including a held-back partial line.</summary>
    public long Position => _position;

    public static LogFileCursor? TryOpen(string path)
    {
        try
        {
            return new LogFileCursor(File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The identity of the file now at <paramref name="path"/>: null when there is none, empty when it is too short to tell.</summary>
    public static byte[]? ReadIdentity(string path)
    {
        using var cursor = TryOpen(path);
        return cursor is null ? null : cursor.ReadIdentity() ?? [];
    }

    /// <summary>The current length of the open file.</summary>
    public long Length => RandomAccess.GetLength(_handle);

    /// <summary>The timestamp of the first line, when the file has one.</summary>
    public DateTimeOffset? FirstTimestamp()
    {
        var identity = ReadIdentity();
        return identity is not null && ProcessLogFormat.TryParseTimestamp(identity, out var timestamp) ? timestamp : null;
    }

    public byte[]? ReadIdentity()
    {
        if (Identity is not null)
        {
            return Identity;
        }

        var buffer = new byte[ProcessLogFormat.TimestampLength];
        var read = 0;
        while (read < buffer.Length)
        {
            var n = RandomAccess.Read(_handle, buffer.AsSpan(read), read);
            if (n == 0)
            {
                return null;
            }

            read += n;
        }

        Identity = buffer;
        return Identity;
    }

    /// <summary>Reads to the current end of the file and hands over every complete, well-formed line.</summary>
    public async Task ReadToEndAsync(Action<LogLine> onLine, CancellationToken cancellationToken)
    {
        while (true)
        {
            var read = await RandomAccess.ReadAsync(_handle, _chunk, _position, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return;
            }

            _position += read;
            Consume(_chunk.AsSpan(0, read), onLine);
        }
    }

    public void Dispose() => _handle.Dispose();

    private void Consume(ReadOnlySpan<byte> data, Action<LogLine> onLine)
    {
        while (!data.IsEmpty)
        {
            var newline = data.IndexOf((byte)'\n');
            var part = newline < 0 ? data : data[..newline];
            if (!_discarding)
            {
                if (_pendingLength + part.Length > MaxPendingBytes)
                {
                    _discarding = true;
                    _pendingLength = 0;
                }
                else
                {
                    EnsureCapacity(_pendingLength + part.Length);
                    part.CopyTo(_pending.AsSpan(_pendingLength));
                    _pendingLength += part.Length;
                }
            }

            if (newline < 0)
            {
                return;
            }

            if (!_discarding && ProcessLogFormat.Parse(_pending.AsSpan(0, _pendingLength)) is { } line)
            {
                onLine(line);
            }

            _discarding = false;
            _pendingLength = 0;
            data = data[(newline + 1)..];
        }
    }

    private void EnsureCapacity(int size)
    {
        if (size > _pending.Length)
        {
            Array.Resize(ref _pending, Math.Max(size, _pending.Length * 2));
        }
    }
}
