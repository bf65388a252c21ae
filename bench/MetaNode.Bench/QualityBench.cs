using System.Diagnostics;
using System.Globalization;
using MetaNode.Federation;
using MetaNode.Grains.Federation;

namespace MetaNode.Bench;

/// <summary>
/// <c>quality [ROUNDS] [SEEDS] [--dataset digits|synthetic|blobs|PATH.csv] [--partition iid|dirichlet:A]</c> (defaults 10 rounds,
/// seeds 1–10 and 42, digits, Dirichlet(0.5)): a job's learning replayed in process (<see cref="FederatedReplay"/>: 10 compute
/// vPods, E = 5, B = 16, lr = 0.1) with each server optimizer and with FedProx. Prints, per seed and strategy, the final accuracy
/// and the first round that reached 0.95. <c>blobs</c> (<see cref="FederatedReplay.Blobs"/>) stands in for a user's CSV file.
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
            foreach (var (name, optimizer, mu) in Strategies)
            {
                var replay = FederatedReplay.Run(data, partition, ComputeVPods, seed, rounds, optimizer, mu);
                results[(seed, name)] = (replay[^1].Accuracy, replay.FirstOrDefault(r => r.Accuracy >= Floor)?.Round);
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
        "blobs" => FederatedReplay.Blobs(),
        _ => CsvDatasetReader.ReadFile(dataset),
    };

    private static string Cell((double Final, int? RoundsToFloor) result) =>
        FormattableString.Invariant($"{result.Final:F4} ({(result.RoundsToFloor is { } r ? r.ToString(CultureInfo.InvariantCulture) : "–")})");

    private static string Fixed(double value) => value.ToString("F4", CultureInfo.InvariantCulture);
}
