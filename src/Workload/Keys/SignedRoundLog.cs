using System.Text.Json;
using MetaNode.Workloads;

namespace MetaNode.Workload.Keys;

/// <summary>The signed-rounds log cannot be trusted (a damaged line that is not a torn last write); the validator refuses to sign.</summary>
public sealed class SignedRoundLogException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The validator's equivocation guard: <c>{keyDir}/signed-rounds.jsonl</c>, one <see cref="SignedRoundRecord"/> a line, the digest it
/// signed for each (chain, registry, job, round). A digest is appended and flushed to disk before its signature is returned, so a crash
/// between the two can never let the validator sign a second result for the round later. Requests are serialised: in the process by a
/// lock, across processes by opening the file exclusively.
/// </summary>
/// <remarks>
/// The log only grows, so what has been read stays indexed in memory and each request reads just the bytes appended since (by this
/// process or another): a validator's cost per round does not grow with the rounds it has signed. A file shorter than what was read
/// is read again from the start.
/// </remarks>
public sealed class SignedRoundLog(string keyDirectory)
{
    private const UnixFileMode LogFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(10);

    private readonly Lock _gate = new();
    private readonly Dictionary<(long ChainId, string Registry, string Job, int Round), SignedRoundRecord> _byRound = [];
    private readonly List<SignedRoundRecord> _records = [];

    /// <summary>Bytes read and indexed: whole lines, plus a last line without its newline when it held a record.</summary>
    private long _read;

    /// <summary>Lines read, for naming a damaged one.</summary>
    private int _lines;

    /// <summary>Where an unfinished last line starts (a torn append, never answered), or null: the next append cuts it off.</summary>
    private long? _tornFrom;

    /// <summary>Whether the last record read has no newline after it yet.</summary>
    private bool _needsNewline;

    public string Path { get; } = System.IO.Path.Combine(keyDirectory, WorkloadProtocol.SignedRoundsFileName);

    /// <summary>
    /// Records that <paramref name="record"/>'s digest is signed for its round. Returns null when it may be signed (just recorded, or
    /// recorded before with the same digest), or the earlier record of the round when that holds another digest (nothing is written).
    /// </summary>
    public SignedRoundRecord? TryRecord(SignedRoundRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        lock (_gate)
        {
            using var stream = OpenExclusive();
            CatchUp(stream);
            if (_byRound.TryGetValue(KeyOf(record), out var signed))
            {
                return string.Equals(signed.Digest, record.Digest, StringComparison.OrdinalIgnoreCase) ? null : signed;
            }

            try
            {
                if (_tornFrom is { } torn)
                {
                    // A torn last line (a crash mid-append, before any answer) signed nothing: it is cut off, not kept between records.
                    stream.SetLength(torn);
                }

                stream.Seek(0, SeekOrigin.End);
                if (_needsNewline)
                {
                    stream.Write("\n"u8);
                }

                stream.Write(JsonSerializer.SerializeToUtf8Bytes(record, WorkloadJson.Default.SignedRoundRecord));
                stream.Write("\n"u8);
                stream.Flush(flushToDisk: true);
            }
            catch
            {
                Forget(); // what is on disk is unknown now: the next request reads the whole log again
                throw;
            }

            Index(record);
            _read = stream.Length;
            _lines++;
            _tornFrom = null;
            _needsNewline = false;
            return null;
        }
    }

    /// <summary>Every complete record in the log, in the order written.</summary>
    public IReadOnlyList<SignedRoundRecord> ReadAll()
    {
        lock (_gate)
        {
            if (!File.Exists(Path))
            {
                return [];
            }

            using var stream = OpenExclusive();
            CatchUp(stream);
            return [.. _records];
        }
    }

    private static (long, string, string, int) KeyOf(SignedRoundRecord record) =>
        (record.ChainId, record.Registry.ToLowerInvariant(), record.Job, record.Round);

    private void Index(SignedRoundRecord record)
    {
        _byRound.TryAdd(KeyOf(record), record);
        _records.Add(record);
    }

    private void Forget()
    {
        _byRound.Clear();
        _records.Clear();
        _read = 0;
        _lines = 0;
        _tornFrom = null;
        _needsNewline = false;
    }

    /// <summary>Reads and indexes what was appended since the last read; a damaged line that is not a torn last write throws.</summary>
    private void CatchUp(FileStream stream)
    {
        if (stream.Length < _read)
        {
            Forget();
        }

        if (stream.Length == _read)
        {
            return;
        }

        try
        {
            ReadFrom(stream);
        }
        catch
        {
            Forget();
            throw;
        }
    }

    private void ReadFrom(FileStream stream)
    {
        stream.Seek(_read, SeekOrigin.Begin);
        var bytes = new byte[stream.Length - _read];
        stream.ReadExactly(bytes);
        var span = bytes.AsSpan();
        var offset = 0;
        if (_needsNewline)
        {
            // The last record read ended the file; if more came since, it must have been its newline.
            if (span[0] != (byte)'\n')
            {
                throw Damaged(_lines, null);
            }

            offset = 1;
            _needsNewline = false;
        }

        _tornFrom = null;
        while (offset < span.Length)
        {
            var end = span[offset..].IndexOf((byte)'\n');
            var line = end < 0 ? span[offset..] : span.Slice(offset, end);
            var record = Parse(line, out var error);
            if (end < 0)
            {
                // The last line without its newline: a record if it parses (the newline follows with the next append), else a torn
                // append that was never answered, so it signed nothing.
                if (record is not null)
                {
                    Index(record);
                    _lines++;
                    _needsNewline = true;
                }
                else
                {
                    _tornFrom = _read + offset;
                    _read += offset;
                    return;
                }

                offset = span.Length;
                break;
            }

            _lines++;
            if (record is not null)
            {
                Index(record);
            }
            else if (!line.Trim((byte)' ').Trim((byte)'\r').IsEmpty)
            {
                throw Damaged(_lines, error);
            }

            offset += end + 1;
        }

        _read += offset;
    }

    private static SignedRoundRecord? Parse(ReadOnlySpan<byte> line, out Exception? error)
    {
        error = null;
        try
        {
            return JsonSerializer.Deserialize(line, WorkloadJson.Default.SignedRoundRecord) is { Job: not null, Registry: not null, Digest: not null } record ? record : null;
        }
        catch (JsonException ex)
        {
            error = ex;
            return null;
        }
    }

    private SignedRoundLogException Damaged(int line, Exception? inner) =>
        new($"The validator's signed-rounds log '{Path}' is damaged at line {line}: it will not sign until the file is repaired (restore it from a backup; never delete it, or the validator could sign two results for a round).", inner);

    private FileStream OpenExclusive()
    {
        var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = LogFileMode;
        }

        var deadline = DateTime.UtcNow + LockTimeout;
        while (true)
        {
            try
            {
                return new FileStream(Path, options);
            }
            catch (IOException) when (DateTime.UtcNow < deadline && File.Exists(Path))
            {
                // Another process holds the log (FileShare.None is an exclusive lock): wait for it, up to the deadline.
                Thread.Sleep(20);
            }
        }
    }
}
