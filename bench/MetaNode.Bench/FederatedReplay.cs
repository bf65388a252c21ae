using System.Globalization;
using System.Text;
using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Workload.Learning;

namespace MetaNode.Bench;

/// <summary>One round of a replay: the global model after it, and its accuracy on the test split.</summary>
internal sealed record ReplayRound(int Round, FederatedModel Model, double Accuracy);

/// <summary>
/// A federated job's learning computed in one process exactly as the workloads and validators compute it: the job's split and
/// partition (<see cref="DataPartitioner"/>) over the members of one compute cluster in ordinal id order, federated standardization, each
/// vPod's local SGD with its training seed (and FedProx's μ), weighted averaging in canonical order, the server optimizer's step,
/// and the evaluation on the test split. The bench's <c>quality</c> and the tests share it (the test project links this file).
/// </summary>
internal static class FederatedReplay
{
    /// <summary>Replays <paramref name="rounds"/> rounds of a job with <paramref name="computeVPods"/> compute vPods.</summary>
    public static IReadOnlyList<ReplayRound> Run(
        TabularDataset data,
        PartitionScheme partition,
        int computeVPods,
        ulong seed,
        int rounds,
        ServerOptimizer optimizer,
        double proximalMu = 0,
        int epochs = 5,
        int batchSize = 16,
        double learningRate = 0.1,
        double testFraction = 0.2,
        string computeCluster = "compute")
    {
        var ids = Enumerable.Range(0, computeVPods).Select(i => ClusterSpecValidation.MemberId(computeCluster, i)).Order(StringComparer.Ordinal).ToArray();
        var plan = DataPartitioner.Plan(data, partition, computeVPods, testFraction, seed);
        var standardization = StandardizationCombiner.Combine(plan.Parts.Select((p, i) => StandardizationCombiner.Moments(ids[i], p, [.. Enumerable.Range(0, p.Rows)])));
        var parts = plan.Parts.Select(p => Standardized(p.Values, p.Features, standardization)).ToArray();
        var test = Standardized(plan.Test.Values, plan.Test.Features, standardization);
        var global = FederatedModel.Zero(data.Classes, data.Features);
        ServerOptimizerState? state = null;
        var result = new List<ReplayRound>(rounds);
        for (var round = 1; round <= rounds; round++)
        {
            var updates = new List<WeightedModel>(computeVPods);
            for (var i = 0; i < computeVPods; i++)
            {
                var part = plan.Parts[i];
                var local = global.Parameters.ToArray();
                SoftmaxRegression.Train(local, part.Classes, part.Features, parts[i], part.Labels, new TrainingSettings(epochs, batchSize, learningRate, FederatedSeeds.Training(seed, round, ids[i]), proximalMu));
                updates.Add(new WeightedModel(ids[i], part.Rows, new FederatedModel(part.Classes, part.Features, local)));
            }

            var step = ServerOptimization.Step(optimizer, global, ModelAggregation.FederatedAverage(updates), state);
            (global, state) = (step.Model, step.State);
            var accuracy = SoftmaxRegression.Evaluate([.. global.Parameters], data.Classes, data.Features, test, plan.Test.Labels).Accuracy;
            result.Add(new ReplayRound(round, global, accuracy));
        }

        return result;
    }

    /// <summary>
    /// A stand-in for a user's CSV file: six overlapping Gaussian classes in 12 features (centres drawn with σ = 1.5, unit noise),
    /// 400 rows each, from one fixed seed; read back through the silo's CSV reader.
    /// </summary>
    public static TabularDataset Blobs()
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

        return CsvDatasetReader.Parse(new StringReader(csv.ToString()), "blobs.csv", "blobs");
    }

    private static double[] Standardized(double[] values, int features, Standardization standardization)
    {
        var copy = (double[])values.Clone();
        SoftmaxRegression.Standardize(copy, features, standardization.Mean, standardization.Scale);
        return copy;
    }
}
