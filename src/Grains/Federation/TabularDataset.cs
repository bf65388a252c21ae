namespace MetaNode.Grains.Federation;

/// <summary>A labelled data set in memory: <see cref="Rows"/> rows of <see cref="Features"/> numbers, row-major, and an integer label 0…<see cref="Classes"/>-1 per row.</summary>
public sealed class TabularDataset
{
    public TabularDataset(string name, int features, double[] values, int[] labels, int? classes = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(labels);
        if (values.Length != (long)labels.Length * features)
        {
            throw new ArgumentException($"{values.Length} values do not make {labels.Length} rows of {features} features.", nameof(values));
        }

        var maxLabel = labels.Length == 0 ? -1 : labels.Max();
        if (labels.Length > 0 && labels.Min() < 0)
        {
            throw new ArgumentException("Labels must not be negative.", nameof(labels));
        }

        Classes = classes ?? maxLabel + 1;
        if (Classes < 1 || maxLabel >= Classes)
        {
            throw new ArgumentException($"{Classes} classes cannot hold label {maxLabel}.", nameof(classes));
        }

        Name = name;
        Features = features;
        Values = values;
        Labels = labels;
    }

    public string Name { get; }

    public int Features { get; }

    public int Classes { get; }

    public int Rows => Labels.Length;

    public double[] Values { get; }

    public int[] Labels { get; }

    public ReadOnlySpan<double> Row(int row) => Values.AsSpan(row * Features, Features);

    /// <summary>The given rows, in the given order, as a new data set with the same class count.</summary>
    public TabularDataset Select(IReadOnlyList<int> rows, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var values = new double[rows.Count * Features];
        var labels = new int[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            Row(rows[i]).CopyTo(values.AsSpan(i * Features, Features));
            labels[i] = Labels[rows[i]];
        }

        return new TabularDataset(name ?? Name, Features, values, labels, Classes);
    }
}
