using System.Diagnostics;
using System.Globalization;
using System.Text;
using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Workload.Learning;

namespace MetaNode.Bench;

/// <summary>
/// <c>quality [ROUNDS] [SEEDS] [--dataset digits|synthetic|blobs|PATH.csv] [--partition iid|dirichlet:A]</c> (defaults 10 rounds,
/// seeds 1–10 and 42, digits, Dirichlet(0.5)): a job's learning computed in process exactly as the workloads and validators compute
/// it — the job's split and partition over 10 compute vPods, federated standardization, E = 5, B = 16, lr = 0.1, the vPods' training
/// seeds (<see cref="SoftmaxRegression"/>, with FedProx's μ where set), weighted averaging in canonical order, then the server
/// optimizer's step (<see cref="ServerOptimization"/>), evaluation on the test split. Prints, per seed and strategy, the final
/// accuracy and the first round that reached 0.95. <c>blobs</c> is a CSV written here and read back through the silo's CSV reader:
/// overlapping Gaussian classes, 6 classes × 12 features, 2,400 rows (a stand-in for a user's file).
/// </summary>
internal static class QualityBench
{
    private const int ComputeVPods = 10;
    private const double Floor = 0.95;

    private static readonly (string Name, ServerOptimizer Optimizer, double ProximalMu)[] Strategies =
    [
        ("avg", ServerOptimizer.Average, 0),
        ("avgm (default)", ServerOptimizer.Default, 0),
        ("adam", ServerOptimizer.Parse("adam", null, null), 0),
        ("avg + FedProx μ=0.01", ServerOptimizer.Average, 0.01),
    ];

    public static void Run(string[] args)
    {
        var positional = args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (i == 0 || !args[i - 1].StartsWith("--", StringComparison.Ordinal))).ToArray();
        var rounds = positional.Length > 0 ? int.Parse(positional[0], CultureInfo.InvariantCulture) : 10;
        var seeds = positional.Length > 1
            ? positional[1].Split(',').Select(s => ulong.Parse(s, CultureInfo.InvariantCulture)).ToArray()
            : [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 42];
        var dataset = Option(args, "--dataset") ?? "digits";
        var partition = PartitionScheme.Parse(Option(args, "--partition") ?? "dirichlet:0.5");

        var results = new Dictionary<(ulong Seed, string Strategy), (double Final, int? RoundsToFloor)>();
        var watch = Stopwatch.StartNew();
        foreach (var seed in seeds)
        {
            var data = Load(dataset, seed);
            var ids = Enumerable.Range(0, ComputeVPods).Select(i => ClusterSpecValidation.MemberId("compute", i)).Order(StringComparer.Ordinal).ToArray();
            var plan = DataPartitioner.Plan(data, partition, ComputeVPods, 0.2, seed);
            var standardization = StandardizationCombiner.Combine(plan.Parts.Select((p, i) => StandardizationCombiner.Moments(ids[i], p, [.. Enumerable.Range(0, p.Rows)])));
            var parts = plan.Parts.Select(p => Standardized(p.Values, p.Features, standardization)).ToArray();
            var test = Standardized(plan.Test.Values, plan.Test.Features, standardization);
            foreach (var (name, optimizer, mu) in Strategies)
            {
                var global = FederatedModel.Zero(data.Classes, data.Features);
                ServerOptimizerState? state = null;
                int? reached = null;
                var accuracy = 0.0;
                for (var round = 1; round <= rounds; round++)
                {
                    var updates = new List<WeightedModel>();
                    for (var i = 0; i < ComputeVPods; i++)
                    {
                        var part = plan.Parts[i];
                        if (part.Rows == 0)
                        {
                            continue;
                        }

                        var local = global.Parameters.ToArray();
                        SoftmaxRegression.Train(local, part.Classes, part.Features, parts[i], part.Labels, new TrainingSettings(5, 16, 0.1, FederatedSeeds.Training(seed, round, ids[i]), mu));
                        updates.Add(new WeightedModel(ids[i], part.Rows, new FederatedModel(part.Classes, part.Features, local)));
                    }

                    var step = ServerOptimization.Step(optimizer, global, ModelAggregation.FederatedAverage(updates), state);
                    (global, state) = (step.Model, step.State);
                    accuracy = SoftmaxRegression.Evaluate([.. global.Parameters], data.Classes, data.Features, test, plan.Test.Labels).Accuracy;
                    if (reached is null && accuracy >= Floor)
                    {
                        reached = round;
                    }
                }

                results[(seed, name)] = (accuracy, reached);
            }
        }

        Console.WriteLine(FormattableString.Invariant($"{dataset}, {partition}, {ComputeVPods} compute vPods, {rounds} rounds, E=5 B=16 lr=0.1; {watch.Elapsed.TotalSeconds:F1} s"));
        Console.WriteLine(FormattableString.Invariant($"final accuracy (first round ≥ {Floor}):"));
        Console.WriteLine("| seed | " + string.Join(" | ", Strategies.Select(s => s.Name)) + " |");
        Console.WriteLine("|---:|" + string.Concat(Strategies.Select(_ => "---:|")));
        foreach (var seed in seeds)
        {
            Console.WriteLine(FormattableString.Invariant($"| {seed} | ") + string.Join(" | ", Strategies.Select(s => Cell(results[(seed, s.Name)]))) + " |");
        }

        Console.WriteLine("| min | " + string.Join(" | ", Strategies.Select(s => Fixed(seeds.Min(seed => results[(seed, s.Name)].Final)))) + " |");
        Console.WriteLine("| mean | " + string.Join(" | ", Strategies.Select(s => Fixed(seeds.Average(seed => results[(seed, s.Name)].Final)))) + " |");
        Console.WriteLine(FormattableString.Invariant($"| seeds ≥ {Floor} | ") + string.Join(" | ", Strategies.Select(s => $"{seeds.Count(seed => results[(seed, s.Name)].Final >= Floor)}/{seeds.Length}")) + " |");
        var baseline = Strategies[0].Name;
        Console.WriteLine("| seeds below avg | " + string.Join(" | ", Strategies.Select(s => $"{seeds.Count(seed => results[(seed, s.Name)].Final < results[(seed, baseline)].Final)}/{seeds.Length}")) + " |");
    }

    private static string? Option(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    private static TabularDataset Load(string dataset, ulong seed) => dataset switch
    {
        "digits" => BuiltInDatasets.LoadDigits(),
        "synthetic" => SyntheticDatasetGenerator.Generate(new SyntheticDatasetOptions { Seed = FederatedSeeds.Derive(seed, FederatedSeeds.SyntheticPurpose) }).Dataset,
        "blobs" => CsvDatasetReader.Parse(new StringReader(BlobsCsv()), "blobs.csv", "blobs"),
        _ => CsvDatasetReader.ReadFile(dataset),
    };

    /// <summary>Six overlapping Gaussian classes in 12 features (centres 1.5 apart on random axes, unit noise), 400 rows each, one fixed seed.</summary>
    private static string BlobsCsv()
    {
        const int classes = 6;
        const int features = 12;
        var random = new DeterministicRandom(20261204);
        var centres = Enumerable.Range(0, classes).Select(_ => Enumerable.Range(0, features).Select(_ => random.NextNormal(0, 1.5)).ToArray()).ToArray();
        var csv = new StringBuilder();
        csv.AppendLine(string.Join(',', Enumerable.Range(0, features).Select(j => $"f{j}")) + ",label");
        for (var row = 0; row < classes * 400; row++)
        {
            var label = row % classes;
            csv.AppendLine(string.Join(',', centres[label].Select(c => (c + random.NextNormal()).ToString("R", CultureInfo.InvariantCulture))) + "," + label.ToString(CultureInfo.InvariantCulture));
        }

        return csv.ToString();
    }

    private static string Cell((double Final, int? RoundsToFloor) result) =>
        FormattableString.Invariant($"{result.Final:F4} ({(result.RoundsToFloor is { } r ? r.ToString(CultureInfo.InvariantCulture) : "–")})");

    private static string Fixed(double value) => value.ToString("F4", CultureInfo.InvariantCulture);

    private static double[] Standardized(double[] values, int features, Standardization standardization)
    {
        var copy = (double[])values.Clone();
        SoftmaxRegression.Standardize(copy, features, standardization.Mean, standardization.Scale);
        return copy;
    }
}
