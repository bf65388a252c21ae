namespace MetaNode.Workload.Learning;

/// <summary>One split of the vPod's partition in memory: <see cref="Rows"/> × <see cref="Features"/> values, row-major, and one label per row.</summary>
public sealed class LocalSplit
{
    public LocalSplit(string name, int features, int classes, double[] values, int[] labels)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        if (values.Length != labels.Length * features)
        {
            throw new ArgumentException($"{values.Length} values do not make {labels.Length} rows of {features} features.", nameof(values));
        }

        Name = name;
        Features = features;
        Classes = classes;
        Values = values;
        Labels = labels;
    }

    public string Name { get; }

    public int Features { get; }

    public int Classes { get; }

    public int Rows => Labels.Length;

    public double[] Values { get; }

    public int[] Labels { get; }
}
