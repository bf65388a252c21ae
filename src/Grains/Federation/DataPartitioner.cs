using MetaNode.Federation;

namespace MetaNode.Grains.Federation;

/// <summary>A data set split for a job: the held-out test rows for validators and one training part per compute vPod.</summary>
public sealed record FederatedDataPlan(TabularDataset Test, IReadOnlyList<TabularDataset> Parts);

/// <summary>
/// Pure, seeded splitting of a data set. All results list row indices in ascending order, so they depend only on the data, the
/// scheme and the seed.
/// </summary>
public static class DataPartitioner
{
    public const int MaxDirichletAttempts = 1000;
    public const int DirichletMinimumPartSize = 10;

    /// <summary>
    /// The whole plan for a job: a stratified train/test split (seed <see cref="FederatedSeeds.SplitPurpose"/>), then the training rows
    /// partitioned into <paramref name="parts"/> (seed <see cref="FederatedSeeds.PartitionPurpose"/>).
    /// </summary>
    public static FederatedDataPlan Plan(TabularDataset data, PartitionScheme scheme, int parts, double testFraction, ulong jobSeed)
    {
        ArgumentNullException.ThrowIfNull(data);
        var (train, test) = TrainTestSplit(data, testFraction, FederatedSeeds.Derive(jobSeed, FederatedSeeds.SplitPurpose));
        var partition = Partition(data, train, scheme, parts, FederatedSeeds.Derive(jobSeed, FederatedSeeds.PartitionPurpose));
        return new FederatedDataPlan(
            data.Select(test, data.Name),
            partition.Select(rows => data.Select(rows, data.Name)).ToList());
    }

    /// <summary>Stratified: within each class (ascending), the class's rows are shuffled and the first <c>round(count · fraction)</c> go to the test split.</summary>
    public static (int[] Train, int[] Test) TrainTestSplit(TabularDataset data, double testFraction, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!(testFraction is > 0 and < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "The test fraction must be between 0 and 1.");
        }

        var random = new DeterministicRandom(seed);
        var train = new List<int>();
        var test = new List<int>();
        foreach (var rows in RowsByClass(data, Enumerable.Range(0, data.Rows)))
        {
            random.Shuffle(rows);
            var testCount = (int)Math.Round(rows.Count * testFraction, MidpointRounding.AwayFromZero);
            test.AddRange(rows.Take(testCount));
            train.AddRange(rows.Skip(testCount));
        }

        if (train.Count == 0 || test.Count == 0)
        {
            throw new InvalidDatasetException($"Data set '{data.Name}' ({data.Rows} rows) is too small to hold out a test fraction of {testFraction}.");
        }

        train.Sort();
        test.Sort();
        return ([.. train], [.. test]);
    }

    /// <summary>Partitions <paramref name="rows"/> of <paramref name="data"/> into <paramref name="parts"/> non-empty parts.</summary>
    public static int[][] Partition(TabularDataset data, IReadOnlyList<int> rows, PartitionScheme scheme, int parts, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(scheme);
        ArgumentOutOfRangeException.ThrowIfLessThan(parts, 1);
        if (rows.Count < parts)
        {
            throw new InvalidDatasetException($"{rows.Count} training rows of '{data.Name}' cannot fill {parts} parts.");
        }

        return scheme.Kind switch
        {
            PartitionKind.Iid => Iid(rows, parts, seed),
            PartitionKind.Dirichlet => Dirichlet(data, rows, parts, scheme.Alpha, seed),
            _ => throw new ArgumentException($"Partition scheme '{scheme}' is not supported.", nameof(scheme)),
        };
    }

    /// <summary>Shuffle, then deal round-robin: sizes differ by at most one.</summary>
    public static int[][] Iid(IReadOnlyList<int> rows, int parts, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var shuffled = rows.Order().ToArray();
        new DeterministicRandom(seed).Shuffle(shuffled);
        var result = new List<int>[parts];
        for (var p = 0; p < parts; p++)
        {
            result[p] = [];
        }

        for (var i = 0; i < shuffled.Length; i++)
        {
            result[i % parts].Add(shuffled[i]);
        }

        return [.. result.Select(p => p.Order().ToArray())];
    }

    /// <summary>
    /// Label skew as in the NIID-Bench benchmark (Li et al., 2022): for each class (ascending) its rows are shuffled, proportions
    /// <c>p ~ Dirichlet(α)</c> are drawn over the parts, parts already holding at least <c>rows / parts</c> rows get proportion 0
    /// (the rest renormalized), and the class's rows are cut at <c>floor(cumsum(p) · count)</c>. The draw is repeated until every
    /// part holds at least <c>min(10, rows / (2 · parts))</c> rows (at most <see cref="MaxDirichletAttempts"/> times).
    /// </summary>
    public static int[][] Dirichlet(TabularDataset data, IReadOnlyList<int> rows, int parts, double alpha, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(rows);
        if (!(alpha > 0) || !double.IsFinite(alpha))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "α must be a positive number.");
        }

        var random = new DeterministicRandom(seed);
        var byClass = RowsByClass(data, rows);
        var minimum = Math.Max(1, Math.Min(DirichletMinimumPartSize, rows.Count / (2 * parts)));
        var fairShare = (double)rows.Count / parts;
        for (var attempt = 0; attempt < MaxDirichletAttempts; attempt++)
        {
            var result = new List<int>[parts];
            for (var p = 0; p < parts; p++)
            {
                result[p] = [];
            }

            foreach (var classRows in byClass)
            {
                var shuffled = classRows.ToArray();
                random.Shuffle(shuffled);
                var proportions = random.NextDirichlet(parts, alpha);
                var sum = 0.0;
                for (var p = 0; p < parts; p++)
                {
                    if (result[p].Count >= fairShare)
                    {
                        proportions[p] = 0;
                    }

                    sum += proportions[p];
                }

                var cumulative = 0.0;
                var start = 0;
                for (var p = 0; p < parts; p++)
                {
                    cumulative += sum > 0 ? proportions[p] / sum : 1.0 / parts;
                    var end = p == parts - 1 ? shuffled.Length : Math.Min(shuffled.Length, (int)Math.Floor(cumulative * shuffled.Length));
                    end = Math.Max(end, start);
                    result[p].AddRange(shuffled[start..end]);
                    start = end;
                }
            }

            if (result.All(p => p.Count >= minimum))
            {
                return [.. result.Select(p => p.Order().ToArray())];
            }
        }

        throw new InvalidDatasetException(
            $"Dirichlet(α={alpha}) could not give each of {parts} parts at least {minimum} of {rows.Count} rows in {MaxDirichletAttempts} draws: use fewer parts or a larger α.");
    }

    private static List<List<int>> RowsByClass(TabularDataset data, IEnumerable<int> rows)
    {
        var byClass = new List<List<int>>(data.Classes);
        for (var c = 0; c < data.Classes; c++)
        {
            byClass.Add([]);
        }

        foreach (var row in rows.Order())
        {
            byClass[data.Labels[row]].Add(row);
        }

        return byClass;
    }
}
