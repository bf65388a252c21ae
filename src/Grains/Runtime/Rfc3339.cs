using System.Globalization;

namespace MetaNode.Grains.Runtime;

/// <summary>Timestamps as container engines and the kubelet write them: RFC 3339 in UTC with up to nine fractional digits.</summary>
public static class Rfc3339
{
    /// <summary>Parses <paramref name="text"/>; fractional digits beyond the seven .NET keeps (100 ns ticks) are dropped.</summary>
    public static bool TryParse(string text, out DateTimeOffset at)
    {
        at = default;
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0)
        {
            var end = dot + 1;
            while (end < text.Length && char.IsAsciiDigit(text[end]))
            {
                end++;
            }

            if (end - dot - 1 > 7)
            {
                text = text[..(dot + 8)] + text[end..];
            }
        }

        return text.Length >= 20
            && char.IsAsciiDigit(text[0])
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out at);
    }
}
