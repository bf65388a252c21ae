using System.Diagnostics;
using System.Globalization;
using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Workload.Learning;

namespace MetaNode.Bench;

/// <summary>
/// `quality [ROUNDS] [SEEDS]` (defaults 10, 1..10 and 42): the job's learning, computed in process exactly as the workloads do it
/// (the job's split and Dirichlet(0.5) partition over 10 compute vPods, federated standardization, E = 5, B = 16, lr = 0.1, the
/// vPods' training seeds, weighted averaging in canonical order, evaluation on the test split), with the server step varied:
/// plain federated averaging, and the server optimizers of Reddi et al. (ICLR 2021) applied to the averaged delta —
/// FedAvgM (server momentum) and FedAdam. Prints final accuracy and rounds to 0.95 per seed and strategy.
/// </summary>
internal static class QualityBench
{
    private const int ComputeVPods = 10;

    public static void Run(string[] args)
    {
        var rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
        var seeds = args.Length > 1
            ? args[1].Split(',').Select(s => ulong.Parse(s, CultureInfo.InvariantCulture)).ToArray()
            : [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 42];
        var strategies = new (string Name, Func<ServerStep> Create)[]
        {
            ("fedavg", () => new ServerStep(ServerKind.Average, 1.0, 0, 0, 0)),
            ("avgm η=1 β=0.5", () => new ServerStep(ServerKind.Momentum, 1.0, 0.5, 0, 0)),
            ("avgm η=1 β=0.7", () => new ServerStep(ServerKind.Momentum, 1.0, 0.7, 0, 0)),
            ("avgm η=2 β=0", () => new ServerStep(ServerKind.Momentum, 2.0, 0, 0, 0)),
            ("avgm η=1.5 β=0.3", () => new ServerStep(ServerKind.Momentum, 1.5, 0.3, 0, 0)),
            ("avgm η=1.5 β=0.5", () => new ServerStep(ServerKind.Momentum, 1.5, 0.5, 0, 0)),
            ("avgm η=1.2 β=0.5", () => new ServerStep(ServerKind.Momentum, 1.2, 0.5, 0, 0)),
            ("adam η=0.1 τ=1e-2", () => new ServerStep(ServerKind.Adam, 0.1, 0.9, 0.99, 1e-2)),
        };

        var digits = BuiltInDatasets.LoadDigits();
        var ids = Enumerable.Range(0, ComputeVPods).Select(i => ClusterSpecValidation.MemberId("compute", i)).Order(StringComparer.Ordinal).ToArray();
        var results = new Dictionary<(ulong Seed, string Strategy), (double Final, int? RoundsTo095)>();
        var watch = Stopwatch.StartNew();
        foreach (var seed in seeds)
        {
            var plan = DataPartitioner.Plan(digits, PartitionScheme.Dirichlet(0.5), ComputeVPods, 0.2, seed);
            var standardization = StandardizationCombiner.Combine(plan.Parts.Select((p, i) => StandardizationCombiner.Moments(ids[i], p, [.. Enumerable.Range(0, p.Rows)])));
            var parts = plan.Parts.Select(p => Standardized(p.Values, p.Features, standardization)).ToArray();
            var test = Standardized(plan.Test.Values, plan.Test.Features, standardization);
            foreach (var (name, create) in strategies)
            {
                var server = create();
                var global = new double[FederatedModel.ParameterCount(digits.Classes, digits.Features)];
                int? reached = null;
                var accuracy = 0.0;
                for (var round = 1; round <= rounds; round++)
                {
                    var updates = new List<WeightedModel>();
                    for (var i = 0; i < ComputeVPods; i++)
                    {
                        var local = (double[])global.Clone();
                        var part = plan.Parts[i];
                        SoftmaxRegression.Train(local, part.Classes, part.Features, parts[i], part.Labels, new TrainingSettings(5, 16, 0.1, FederatedSeeds.Training(seed, round, ids[i])));
                        updates.Add(new WeightedModel(ids[i], part.Rows, new FederatedModel(part.Classes, part.Features, local)));
                    }

                    var average = ModelAggregation.FederatedAverage(updates).Parameters;
                    global = server.Apply(global, average);
                    accuracy = SoftmaxRegression.Evaluate(global, digits.Classes, digits.Features, test, plan.Test.Labels).Accuracy;
                    if (reached is null && accuracy >= 0.95)
                    {
                        reached = round;
                    }
                }

                results[(seed, name)] = (accuracy, reached);
            }
        }

        Console.WriteLine(FormattableString.Invariant($"digits, Dirichlet(0.5), {ComputeVPods} compute vPods, {rounds} rounds, E=5 B=16 lr=0.1; {watch.Elapsed.TotalSeconds:F1} s"));
        Console.WriteLine("final accuracy (rounds to 0.95):");
        Console.WriteLine("| seed | " + string.Join(" | ", strategies.Select(s => s.Name)) + " |");
        Console.WriteLine("|---:|" + string.Concat(strategies.Select(_ => "---:|")));
        foreach (var seed in seeds)
        {
            Console.WriteLine(FormattableString.Invariant($"| {seed} | ") + string.Join(" | ", strategies.Select(s => Cell(results[(seed, s.Name)]))) + " |");
        }

        Console.WriteLine("| min | " + string.Join(" | ", strategies.Select(s => seeds.Min(seed => results[(seed, s.Name)].Final).ToString("F4", CultureInfo.InvariantCulture))) + " |");
        Console.WriteLine("| seeds ≥ 0.95 | " + string.Join(" | ", strategies.Select(s => $"{seeds.Count(seed => results[(seed, s.Name)].Final >= 0.95)}/{seeds.Length}")) + " |");
    }

    private static string Cell((double Final, int? RoundsTo095) result) =>
        FormattableString.Invariant($"{result.Final:F4} ({(result.RoundsTo095 is { } r ? r.ToString(CultureInfo.InvariantCulture) : "–")})");

    private static double[] Standardized(double[] values, int features, Standardization standardization)
    {
        var copy = (double[])values.Clone();
        SoftmaxRegression.Standardize(copy, features, standardization.Mean, standardization.Scale);
        return copy;
    }

    private enum ServerKind
    {
        Average,
        Momentum,
        Adam,
    }

    /// <summary>
    /// The server's step on the averaged delta Δ = average − global (Reddi et al., Algorithm 2): FedAvgM m ← βm + Δ, x ← x + ηm;
    /// FedAdam m ← β1·m + (1−β1)Δ, v ← β2·v + (1−β2)Δ², x ← x + η·m / (√v + τ).
    /// </summary>
    private sealed class ServerStep(ServerKind kind, double eta, double beta1, double beta2, double tau)
    {
        private double[]? _m;
        private double[]? _v;

        public double[] Apply(double[] global, double[] average)
        {
            if (kind == ServerKind.Average)
            {
                return average;
            }

            _m ??= new double[global.Length];
            _v ??= new double[global.Length];
            var next = new double[global.Length];
            for (var i = 0; i < global.Length; i++)
            {
                var delta = average[i] - global[i];
                if (kind == ServerKind.Momentum)
                {
                    _m[i] = (beta1 * _m[i]) + delta;
                    next[i] = global[i] + (eta * _m[i]);
                }
                else
                {
                    _m[i] = (beta1 * _m[i]) + ((1 - beta1) * delta);
                    _v[i] = (beta2 * _v[i]) + ((1 - beta2) * delta * delta);
                    next[i] = global[i] + (eta * _m[i] / (Math.Sqrt(_v[i]) + tau));
                }
            }

            return next;
        }
    }
}
