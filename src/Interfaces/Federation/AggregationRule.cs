using System.Globalization;

namespace MetaNode.Federation;

[GenerateSerializer, Alias("MetaNode.Federation.AggregationKind")]
public enum AggregationKind
{
    None = 0,

    /// <summary>Weighted federated averaging by sample count.</summary>
    FederatedAverage = 1,

    /// <summary>Coordinate-wise median of the accepted updates.</summary>
    Median = 2,

    /// <summary>Coordinate-wise mean after dropping the lowest and highest <c>floor(F·n)</c> values of each coordinate.</summary>
    TrimmedMean = 3,
}

/// <summary>
/// How validators combine updates: <c>none</c> (weighted FedAvg), <c>median</c> or <c>trimmed-mean:F</c> (0 ≤ F &lt; 0.5).
/// The robust rules also screen out updates whose distance from the global model is far beyond the others'.
/// </summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Federation.AggregationRule")]
public sealed record AggregationRule([property: Id(0)] AggregationKind Kind, [property: Id(1)] double TrimFraction = 0)
{
    public static AggregationRule FederatedAverage { get; } = new(AggregationKind.FederatedAverage);

    public static AggregationRule Median { get; } = new(AggregationKind.Median);

    public static AggregationRule TrimmedMean(double fraction) => new(AggregationKind.TrimmedMean, fraction);

    public bool IsRobust => Kind is AggregationKind.Median or AggregationKind.TrimmedMean;

    /// <summary>Parses the <c>--robust</c> option: empty or <c>none</c>, <c>median</c>, <c>trimmed-mean:F</c>; throws <see cref="FormatException"/> naming the text.</summary>
    public static AggregationRule Parse(string? text)
    {
        var value = text?.Trim() ?? string.Empty;
        if (value.Length == 0 || string.Equals(value, "none", StringComparison.OrdinalIgnoreCase))
        {
            return FederatedAverage;
        }

        if (string.Equals(value, "median", StringComparison.OrdinalIgnoreCase))
        {
            return Median;
        }

        const string prefix = "trimmed-mean:";
        if (value.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            var fractionText = value[prefix.Length..];
            if (double.TryParse(fractionText, NumberStyles.Float, CultureInfo.InvariantCulture, out var fraction) && fraction is >= 0 and < 0.5)
            {
                return TrimmedMean(fraction);
            }

            throw new FormatException($"robust '{text}': the trimmed fraction '{fractionText}' must be a number from 0 up to (not including) 0.5, e.g. trimmed-mean:0.1.");
        }

        throw new FormatException($"robust '{text}' is unknown: use none, median or trimmed-mean:F (e.g. trimmed-mean:0.1).");
    }

    public override string ToString() => Kind switch
    {
        AggregationKind.FederatedAverage => "none",
        AggregationKind.Median => "median",
        AggregationKind.TrimmedMean => "trimmed-mean:" + TrimFraction.ToString("R", CultureInfo.InvariantCulture),
        _ => "invalid",
    };
}
