using System.Globalization;

namespace MetaNode.Federation;

[GenerateSerializer, Alias("MetaNode.Federation.PartitionKind")]
public enum PartitionKind
{
    None = 0,

    /// <summary>Rows shuffled and dealt round-robin: every part gets the same label mix and sizes differing by at most one.</summary>
    Iid = 1,

    /// <summary>Label skew: each class is split between the parts by proportions drawn from Dirichlet(α); small α, strong skew.</summary>
    Dirichlet = 2,
}

/// <summary>How a data set is split between compute vPods: <c>iid</c> or <c>dirichlet:ALPHA</c>.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Federation.PartitionScheme")]
public sealed record PartitionScheme([property: Id(0)] PartitionKind Kind, [property: Id(1)] double Alpha = 0)
{
    public static PartitionScheme Iid { get; } = new(PartitionKind.Iid);

    public static PartitionScheme Dirichlet(double alpha) => new(PartitionKind.Dirichlet, alpha);

    /// <summary>Parses <c>iid</c> or <c>dirichlet:ALPHA</c> (α a positive number); throws <see cref="FormatException"/> naming the text.</summary>
    public static PartitionScheme Parse(string text)
    {
        var value = text?.Trim() ?? string.Empty;
        if (string.Equals(value, "iid", StringComparison.OrdinalIgnoreCase))
        {
            return Iid;
        }

        const string prefix = "dirichlet:";
        if (value.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            var alphaText = value[prefix.Length..];
            if (double.TryParse(alphaText, NumberStyles.Float, CultureInfo.InvariantCulture, out var alpha) && double.IsFinite(alpha) && alpha > 0)
            {
                return Dirichlet(alpha);
            }

            throw new FormatException($"partition '{text}': α '{alphaText}' must be a positive number, e.g. dirichlet:0.5.");
        }

        throw new FormatException($"partition '{text}' is unknown: use iid or dirichlet:ALPHA (e.g. dirichlet:0.5).");
    }

    public override string ToString() => Kind switch
    {
        PartitionKind.Iid => "iid",
        PartitionKind.Dirichlet => "dirichlet:" + Alpha.ToString("R", CultureInfo.InvariantCulture),
        _ => "none",
    };
}
