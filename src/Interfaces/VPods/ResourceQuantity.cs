using System.Globalization;

namespace MetaNode.VPods;

/// <summary>Parses and formats the size syntax users type: memory <c>4Gi</c>, <c>256Mi</c>, <c>1G</c>, <c>1048576</c>; cpu <c>0.5</c>, <c>500m</c>, <c>2</c>.</summary>
public static class ResourceQuantity
{
    private static readonly (string Suffix, long Factor)[] MemorySuffixes =
    [
        ("Ki", 1L << 10), ("Mi", 1L << 20), ("Gi", 1L << 30), ("Ti", 1L << 40),
        ("k", 1_000L), ("K", 1_000L), ("M", 1_000_000L), ("G", 1_000_000_000L), ("T", 1_000_000_000_000L),
    ];

    /// <summary>Parses a memory size to bytes. Throws <see cref="FormatException"/> naming the bad value.</summary>
    public static long ParseMemory(string text)
    {
        if (!TryParseMemory(text, out var bytes, out var error))
        {
            throw new FormatException(error);
        }

        return bytes;
    }

    public static bool TryParseMemory(string? text, out long bytes, out string error)
    {
        bytes = 0;
        var value = text?.Trim() ?? string.Empty;
        error = $"Invalid memory size '{text}': use a positive number of bytes or a suffix Ki, Mi, Gi, Ti, k, M, G, T (e.g. 256Mi, 4Gi).";
        if (value.Length == 0)
        {
            return false;
        }

        long factor = 1;
        foreach (var (suffix, f) in MemorySuffixes)
        {
            if (value.EndsWith(suffix, StringComparison.Ordinal))
            {
                factor = f;
                value = value[..^suffix.Length];
                break;
            }
        }

        if (!decimal.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number) || number <= 0)
        {
            return false;
        }

        var total = number * factor;
        if (total > long.MaxValue || total < 1)
        {
            return false;
        }

        bytes = (long)decimal.Ceiling(total);
        error = string.Empty;
        return true;
    }

    /// <summary>Parses a CPU amount to millicores. Throws <see cref="FormatException"/> naming the bad value.</summary>
    public static long ParseCpu(string text)
    {
        if (!TryParseCpu(text, out var millis, out var error))
        {
            throw new FormatException(error);
        }

        return millis;
    }

    public static bool TryParseCpu(string? text, out long millicores, out string error)
    {
        millicores = 0;
        var value = text?.Trim() ?? string.Empty;
        error = $"Invalid cpu '{text}': use cores (0.5, 2) or millicores (500m).";
        decimal factor = 1000;
        if (value.EndsWith('m'))
        {
            factor = 1;
            value = value[..^1];
        }

        if (value.Length == 0
            || !decimal.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number)
            || number <= 0)
        {
            return false;
        }

        var total = number * factor;
        if (total < 1 || total > 1_000_000)
        {
            return false;
        }

        millicores = (long)decimal.Round(total);
        error = string.Empty;
        return true;
    }

    /// <summary>Formats bytes with the largest binary suffix that divides it exactly (<c>268435456</c> → <c>256Mi</c>).</summary>
    public static string FormatMemory(long bytes)
    {
        string[] suffixes = ["Ti", "Gi", "Mi", "Ki"];
        for (var i = 0; i < suffixes.Length; i++)
        {
            var factor = 1L << (10 * (4 - i));
            if (bytes >= factor && bytes % factor == 0)
            {
                return (bytes / factor).ToString(CultureInfo.InvariantCulture) + suffixes[i];
            }
        }

        return bytes.ToString(CultureInfo.InvariantCulture);
    }

    public static string FormatCpu(long millicores) =>
        millicores % 1000 == 0
            ? (millicores / 1000).ToString(CultureInfo.InvariantCulture)
            : millicores.ToString(CultureInfo.InvariantCulture) + "m";

    /// <summary>Parses <c>--since</c>: a duration back from <paramref name="now"/> (<see cref="Durations"/>: <c>90s</c>, <c>1h30m</c>, <c>2d</c>) or an ISO-8601 timestamp.</summary>
    public static DateTimeOffset ParseSince(string text, DateTimeOffset now)
    {
        var value = text?.Trim() ?? string.Empty;
        if (TryParseDuration(value, out var duration))
        {
            return now - DateTimeOffset.MinValue >= duration
                ? now - duration
                : throw new FormatException($"Invalid since '{text}': {duration.TotalDays:F0} days back is before the year 1.");
        }

        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            return at;
        }

        throw new FormatException($"Invalid since '{text}': use a duration ({Durations.Examples}) or a timestamp (2026-01-31T12:00:00Z).");
    }

    /// <summary>Parses a duration (<see cref="Durations"/>: <c>30s</c>, <c>1h30m</c>, <c>2d</c>, <c>hh:mm:ss</c>).</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration) => Durations.TryParse(text, out duration);
}
