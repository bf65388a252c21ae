using System.Text;
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
public sealed class SignedRoundLog(string keyDirectory)
{
    private const UnixFileMode LogFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(10);

    private readonly Lock _gate = new();

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
            var existing = ReadAll(stream);
            foreach (var signed in existing)
            {
                if (SameRound(signed, record))
                {
                    return string.Equals(signed.Digest, record.Digest, StringComparison.OrdinalIgnoreCase) ? null : signed;
                }
            }

            var line = JsonSerializer.SerializeToUtf8Bytes(record, WorkloadJson.Default.SignedRoundRecord);
            stream.Seek(0, SeekOrigin.End);
            if (stream.Length > 0 && !EndsWithNewline(stream))
            {
                // A torn last line (a crash mid-append, before any answer) is closed off so the new record stands on its own line.
                stream.Write("\n"u8);
            }

            stream.Write(line);
            stream.Write("\n"u8);
            stream.Flush(flushToDisk: true);
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
            return ReadAll(stream);
        }
    }

    private static bool SameRound(SignedRoundRecord a, SignedRoundRecord b) =>
        a.ChainId == b.ChainId
        && string.Equals(a.Registry, b.Registry, StringComparison.OrdinalIgnoreCase)
        && string.Equals(a.Job, b.Job, StringComparison.Ordinal)
        && a.Round == b.Round;

    private List<SignedRoundRecord> ReadAll(FileStream stream)
    {
        stream.Seek(0, SeekOrigin.Begin);
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        var text = Encoding.UTF8.GetString(bytes);
        var lines = text.Split('\n');
        var records = new List<SignedRoundRecord>(lines.Length);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0)
            {
                continue;
            }

            var last = i == lines.Length - 1;
            try
            {
                if (JsonSerializer.Deserialize(line, WorkloadJson.Default.SignedRoundRecord) is { Job: not null, Registry: not null, Digest: not null } record)
                {
                    records.Add(record);
                    continue;
                }
            }
            catch (JsonException ex) when (!last)
            {
                throw Damaged(i + 1, ex);
            }
            catch (JsonException)
            {
                // The last line without its newline is a torn append: it was never answered, so it signed nothing.
                continue;
            }

            if (!last)
            {
                throw Damaged(i + 1, null);
            }
        }

        return records;
    }

    private SignedRoundLogException Damaged(int line, Exception? inner) =>
        new($"The validator's signed-rounds log '{Path}' is damaged at line {line}: it will not sign until the file is repaired (restore it from a backup; never delete it, or the validator could sign two results for a round).", inner);

    private static bool EndsWithNewline(FileStream stream)
    {
        stream.Seek(-1, SeekOrigin.End);
        var last = stream.ReadByte();
        stream.Seek(0, SeekOrigin.End);
        return last == '\n';
    }

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
