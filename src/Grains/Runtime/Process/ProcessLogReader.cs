using System.Globalization;
using System.Runtime.CompilerServices;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// Reads a vPod's log files (<c>vpod.log.N</c> … <c>vpod.log.1</c>, <c>vpod.log</c>, oldest first). Timestamps are strictly
/// increasing across the files, so a line is only taken when it is newer than the last one taken: a rotation that renames
/// files while they are read can then neither duplicate nor reorder lines.
/// </summary>
internal static class ProcessLogReader
{
    public static async Task<IReadOnlyList<LogLine>> ReadAsync(string logsDirectory, LogQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ValidateQuery(query);
        using var live = LogFileCursor.TryOpen(Path.Combine(logsDirectory, ProcessLogFormat.LiveFileName));
        var selection = new Selection(query);
        await ReadSnapshotAsync(logsDirectory, live, selection, cancellationToken).ConfigureAwait(false);
        return selection.ToList();
    }

    /// <summary>The lines matching <paramref name="query"/>, then each new line, until cancelled. Follows the live file across rotations by polling.</summary>
    public static async IAsyncEnumerable<LogLine> FollowAsync(
        string logsDirectory,
        LogQuery query,
        TimeSpan pollInterval,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ValidateQuery(query);
        var livePath = Path.Combine(logsDirectory, ProcessLogFormat.LiveFileName);
        var since = query.Since;
        var fresh = new List<LogLine>();
        DateTimeOffset? last = null;

        // Open the live file before reading the rotated ones: whatever is rotated meanwhile is still found through this handle.
        var live = LogFileCursor.TryOpen(livePath);
        try
        {
            var selection = new Selection(query);
            last = await ReadSnapshotAsync(logsDirectory, live, selection, cancellationToken).ConfigureAwait(false);
            foreach (var line in selection.ToList())
            {
                yield return line;
            }

            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (live is null)
                {
                    live = LogFileCursor.TryOpen(livePath);
                    if (live is not null)
                    {
                        // Catch up with files rotated out since the last line taken.
                        last = await ReadFilesAsync(logsDirectory, includeLive: null, last, Take, cancellationToken).ConfigureAwait(false);
                    }
                }

                if (live is not null)
                {
                    await live.ReadToEndAsync(Take, cancellationToken).ConfigureAwait(false);
                }

                foreach (var line in fresh)
                {
                    yield return line;
                }

                fresh.Clear();

                if (live is not null && WasReplaced(livePath, live))
                {
                    // The writer has closed the old file before renaming it: drain it, then switch to the new one at once.
                    await live.ReadToEndAsync(Take, cancellationToken).ConfigureAwait(false);
                    live.Dispose();
                    live = null;
                    foreach (var line in fresh)
                    {
                        yield return line;
                    }

                    fresh.Clear();
                    continue;
                }

                await Task.Delay(pollInterval, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            live?.Dispose();
        }

        void Take(LogLine line)
        {
            if ((last is null || line.Timestamp > last) && (since is null || line.Timestamp >= since))
            {
                fresh.Add(line);
            }

            if (last is null || line.Timestamp > last)
            {
                last = line.Timestamp;
            }
        }
    }

    /// <summary>Rotated files, newest first (<c>vpod.log.1</c>, <c>vpod.log.2</c>, …).</summary>
    public static List<string> RotatedFilesNewestFirst(string logsDirectory)
    {
        var files = new List<(int Index, string Path)>();
        if (!Directory.Exists(logsDirectory))
        {
            return [];
        }

        var prefix = ProcessLogFormat.LiveFileName + ".";
        foreach (var path in Directory.EnumerateFiles(logsDirectory, prefix + "*"))
        {
            // The pattern also matches "vpod.log" itself (a trailing ".*" may match nothing).
            var name = Path.GetFileName(path);
            if (name.Length > prefix.Length && int.TryParse(name.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index > 0)
            {
                files.Add((index, path));
            }
        }

        files.Sort(static (a, b) => a.Index.CompareTo(b.Index));
        return files.ConvertAll(static f => f.Path);
    }

    private static void ValidateQuery(LogQuery query)
    {
        if (LogQueries.Problem(query) is { } problem)
        {
            throw new ArgumentOutOfRangeException(nameof(query), query.Tail, problem);
        }
    }

    /// <summary>Reads the rotated files, then <paramref name="live"/> (opened by the caller before), into <paramref name="selection"/>. Returns the newest timestamp seen.</summary>
    private static Task<DateTimeOffset?> ReadSnapshotAsync(string logsDirectory, LogFileCursor? live, Selection selection, CancellationToken cancellationToken) =>
        ReadFilesAsync(logsDirectory, live, after: null, selection.Offer, cancellationToken);

    /// <summary>
    /// Hands over the lines newer than <paramref name="after"/> from the rotated files and then from <paramref name="includeLive"/>.
    /// Files are opened newest first and opening stops at the first file that starts at or before <paramref name="after"/>.
    /// </summary>
    private static async Task<DateTimeOffset?> ReadFilesAsync(
        string logsDirectory,
        LogFileCursor? includeLive,
        DateTimeOffset? after,
        Action<LogLine> onLine,
        CancellationToken cancellationToken)
    {
        var opened = new List<LogFileCursor>();
        var last = after;
        try
        {
            foreach (var path in RotatedFilesNewestFirst(logsDirectory))
            {
                var cursor = LogFileCursor.TryOpen(path);
                if (cursor is null)
                {
                    continue;
                }

                opened.Add(cursor);
                if (after is not null && cursor.FirstTimestamp() is { } first && first <= after)
                {
                    break;
                }
            }

            for (var i = opened.Count - 1; i >= 0; i--)
            {
                await opened[i].ReadToEndAsync(Take, cancellationToken).ConfigureAwait(false);
            }

            if (includeLive is not null)
            {
                await includeLive.ReadToEndAsync(Take, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            foreach (var cursor in opened)
            {
                cursor.Dispose();
            }
        }

        return last;

        void Take(LogLine line)
        {
            if (last is null || line.Timestamp > last)
            {
                last = line.Timestamp;
                onLine(line);
            }
        }
    }

    /// <summary>True when the file at <paramref name="livePath"/> is no longer the one <paramref name="cursor"/> reads (rotated, deleted, recreated).</summary>
    private static bool WasReplaced(string livePath, LogFileCursor cursor)
    {
        var current = LogFileCursor.ReadIdentity(livePath);
        if (current is null)
        {
            return true;
        }

        var mine = cursor.ReadIdentity();
        if (mine is null)
        {
            // Ours is still (nearly) empty: it was replaced if the file at the path already holds a line.
            return current.Length > 0 && cursor.Length == 0;
        }

        return current.Length > 0 && !current.AsSpan().SequenceEqual(mine);
    }

    /// <summary>Applies <see cref="LogQuery.Since"/> and keeps the last <see cref="LogQuery.Tail"/> lines.</summary>
    private sealed class Selection(LogQuery query)
    {
        private readonly Queue<LogLine> _lines = new();

        public void Offer(LogLine line)
        {
            if (query.Since is { } since && line.Timestamp < since)
            {
                return;
            }

            // No tail keeps the last MaxTail lines: a query never holds more, however long the logs are.
            var tail = query.Tail ?? LogQueries.MaxTail;
            if (tail == 0)
            {
                return;
            }

            if (_lines.Count == tail)
            {
                _lines.Dequeue();
            }

            _lines.Enqueue(line);
        }

        public List<LogLine> ToList() => [.. _lines];
    }
}
