using System.Globalization;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// Appends captured output to <c>{logs}/vpod.log</c> in <see cref="ProcessLogFormat"/>, rotating by size
/// (<c>vpod.log</c> → <c>vpod.log.1</c> → … → <c>vpod.log.{maxFiles}</c>, the oldest dropped). One writer per vPod, shared by
/// both output streams and by successive runs of the workload; it stamps every line with a strictly increasing capture time.
/// A file holds more than <c>maxBytes</c> only when a single line is larger.
/// </summary>
internal sealed partial class RotatingLogWriter : IDisposable
{
    private const int BufferSize = 64 * 1024;

    private readonly Lock _lock = new();
    private readonly string _vpodId;
    private readonly string _directory;
    private readonly string _livePath;
    private readonly long _maxBytes;
    private readonly int _maxFiles;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private FileStream? _stream;
    private long _size;
    private DateTime _lastStamp;
    private bool _failing;
    private bool _disposed;

    public RotatingLogWriter(string vpodId, string directory, long maxBytes, int maxFiles, TimeProvider timeProvider, ILogger logger)
    {
        _vpodId = vpodId;
        _directory = directory;
        _livePath = Path.Combine(directory, ProcessLogFormat.LiveFileName);
        _maxBytes = maxBytes;
        _maxFiles = maxFiles;
        _timeProvider = timeProvider;
        _logger = logger;
        _lastStamp = ReadLastStamp(_livePath);
    }

    /// <summary>Appends one line (buffered until <see cref="Flush"/>). Write failures are logged once per failure streak and the line is dropped.</summary>
    public void Append(LogStream stream, string text)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            var stamp = _timeProvider.GetUtcNow().UtcDateTime;
            if (stamp <= _lastStamp)
            {
                stamp = _lastStamp.AddTicks(1);
            }

            var bytes = ProcessLogFormat.Format(stamp, stream, text);
            try
            {
                var file = EnsureOpen();
                if (_size > 0 && _size + bytes.Length > _maxBytes)
                {
                    Rotate();
                    file = EnsureOpen();
                }

                file.Write(bytes);
                _size += bytes.Length;
                _lastStamp = stamp;
                _failing = false;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Fail(ex);
            }
        }
    }

    public void Flush()
    {
        lock (_lock)
        {
            try
            {
                _stream?.Flush();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Fail(ex);
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            try
            {
                _stream?.Dispose();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Fail(ex);
            }

            _stream = null;
        }
    }

    private FileStream EnsureOpen()
    {
        if (_stream is not null)
        {
            return _stream;
        }

        Directory.CreateDirectory(_directory);
        var stream = new FileStream(_livePath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, BufferSize);
        _size = stream.Length;
        if (_size > 0 && !EndsWithNewline(_livePath))
        {
            // A previous writer died in the middle of a line: end it so the next line is not glued to it.
            stream.WriteByte((byte)'\n');
            _size++;
        }

        _stream = stream;
        return stream;
    }

    private void Rotate()
    {
        _stream?.Dispose();
        _stream = null;
        if (_maxFiles == 0)
        {
            File.Delete(_livePath);
        }
        else
        {
            File.Delete(RotatedPath(_maxFiles));
            for (var i = _maxFiles - 1; i >= 1; i--)
            {
                var source = RotatedPath(i);
                if (File.Exists(source))
                {
                    File.Move(source, RotatedPath(i + 1), overwrite: true);
                }
            }

            File.Move(_livePath, RotatedPath(1), overwrite: true);
        }

        // Files left over from a larger LogMaxFiles.
        foreach (var extra in ProcessLogReader.RotatedFilesNewestFirst(_directory))
        {
            if (int.TryParse(Path.GetFileName(extra).AsSpan(ProcessLogFormat.LiveFileName.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index > _maxFiles)
            {
                File.Delete(extra);
            }
        }

        _size = 0;
        LogRotated(_logger, _vpodId, _livePath, _maxFiles);
    }

    private string RotatedPath(int index) => Path.Combine(_directory, ProcessLogFormat.RotatedFileName(index));

    private void Fail(Exception ex)
    {
        try
        {
            _stream?.Dispose();
        }
        catch (Exception disposeError) when (disposeError is IOException or UnauthorizedAccessException)
        {
            // The stream is broken already; the first error is the one reported.
        }

        _stream = null;
        if (!_failing)
        {
            _failing = true;
            LogWriteFailed(_logger, ex, _vpodId, _livePath);
        }
    }

    private static bool EndsWithNewline(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var length = RandomAccess.GetLength(handle);
        if (length == 0)
        {
            return true;
        }

        Span<byte> last = stackalloc byte[1];
        return RandomAccess.Read(handle, last, length - 1) == 1 && last[0] == (byte)'\n';
    }

    /// <summary>The capture time of the last line of an existing file, so stamps stay increasing across silo restarts.</summary>
    private static DateTime ReadLastStamp(string path)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var length = RandomAccess.GetLength(handle);
            var size = (int)Math.Min(length, 64 * 1024);
            var buffer = new byte[size];
            var read = RandomAccess.Read(handle, buffer, length - size);
            var span = buffer.AsSpan(0, read).TrimEnd((byte)'\n');
            var start = span.LastIndexOf((byte)'\n') + 1;
            var line = span[start..];
            if (line.Length >= ProcessLogFormat.TimestampLength
                && ProcessLogFormat.TryParseTimestamp(line[..ProcessLogFormat.TimestampLength], out var stamp))
            {
                return stamp.UtcDateTime;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return DateTime.MinValue;
        }

        return DateTime.MinValue;
    }
}
