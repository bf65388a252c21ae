using System.Globalization;

namespace MetaNode;

/// <summary>
/// The one grammar of durations users type (<c>--since</c>, <c>--round-deadline</c>, <c>--valid-for</c>, …): one or more
/// <c>NUMBER UNIT</c> pairs with units <c>ms</c>, <c>s</c>, <c>m</c>, <c>h</c>, <c>d</c> (case-insensitive; <c>500ms</c>,
/// <c>1.5m</c>, <c>1h30m</c>, <c>2d</c>), or a time span <c>[d.]hh:mm:ss[.fff]</c>. Surrounding spaces are ignored.
/// </summary>
public static class Durations
{
    public const string Examples = "500ms, 30s, 2m, 1h30m, 2d or hh:mm:ss";

    /// <summary>Reads a duration; false (and zero) for anything else, a negative value or one beyond <see cref="TimeSpan.MaxValue"/>.</summary>
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        var value = text?.Trim() ?? string.Empty;
        if (value.Length == 0)
        {
            return false;
        }

        if (value.Contains(':', StringComparison.Ordinal))
        {
            if (TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out var span) && span >= TimeSpan.Zero)
            {
                duration = span;
                return true;
            }

            return false;
        }

        var milliseconds = 0.0;
        var i = 0;
        while (i < value.Length)
        {
            var start = i;
            while (i < value.Length && (char.IsAsciiDigit(value[i]) || value[i] == '.'))
            {
                i++;
            }

            if (i == start || i == value.Length
                || !double.TryParse(value.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }

            var unitStart = i;
            while (i < value.Length && char.IsAsciiLetter(value[i]))
            {
                i++;
            }

            double? factor = value[unitStart..i].ToLowerInvariant() switch
            {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => null,
            };
            if (factor is null)
            {
                return false;
            }

            milliseconds += number * factor.Value;
        }

        if (!double.IsFinite(milliseconds) || milliseconds >= TimeSpan.MaxValue.TotalMilliseconds)
        {
            return false;
        }

        duration = TimeSpan.FromMilliseconds(milliseconds);
        return true;
    }
}
