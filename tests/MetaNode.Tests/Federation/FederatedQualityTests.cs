using System.Diagnostics;
using System.Globalization;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Workload.Learning;
using Xunit.Abstractions;

namespace MetaNode.Tests.Federation;

public sealed class FederatedQualityTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1UL)]
    [InlineData(2UL)]
    [InlineData(3UL)]
    public async Task FederatedAverage_ReachesDigitsAccuracyAbove095_WhenTenDirichletClientsTrainTenRounds(ulong seed)
    {
        var digits = BuiltInDatasets.LoadDigits();
        var spec = new FederatedJobSpec
        {
            ComputeCluster = "compute",
            ValidatorCluster = "validators",
            Dataset = BuiltInDatasets.Digits,
            Partition = PartitionScheme.Dirichlet(0.5),
            Rounds = 10,
            LocalEpochs = 5,
            BatchSize = 16,
            LearningRate = 0.1,
            MinParticipants = 10,
            Seed = seed,
        };
        using var data = FederationTestData.Create(digits, spec.Partition, 10, spec.Seed);
        var workloads = new List<InProcessWorkload>();
        try
        {
            foreach (var id in data.ComputeIds.Append(data.ValidatorId))
            {
                workloads.Add(await InProcessWorkload.StartAsync(id, data.DataDirectory(id)));
            }

            var compute = data.ComputeIds.Select((id, i) => (id, workloads[i].Endpoint)).ToDictionary(e => e.id, e => e.Endpoint);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
            var simulation = new FederatedSimulation(new FederatedWorkloadClient(http), "job-quality", spec);
            var watch = Stopwatch.StartNew();
            var rounds = await simulation.RunAsync(compute, workloads[^1].Endpoint, digits.Classes, digits.Features);
            watch.Stop();

            output.WriteLine($"partition sizes: {string.Join(", ", data.Plan.Parts.Select(p => p.Rows))}; test rows: {data.Plan.Test.Rows}");
            foreach (var round in rounds)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round {round.Aggregate.Round}: accuracy {round.Evaluation.Accuracy:F4}, loss {round.Evaluation.Loss:F4}, participants {round.Aggregate.Participants.Count}, samples {round.Aggregate.TotalSamples}, {round.Elapsed.TotalMilliseconds:F0} ms, hash {round.Aggregate.ModelHash[..14]}…"));
            }

            output.WriteLine($"total {watch.Elapsed.TotalMilliseconds:F0} ms");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"central baseline on the same split (all training rows, 50 epochs): {CentralAccuracy(data.Plan, simulation.Standardization!):F4}"));
            Assert.All(rounds, r => Assert.Equal(10, r.Aggregate.Participants.Count));
            Assert.All(rounds, r => Assert.Equal(data.Plan.Test.Rows, r.Evaluation.SampleCount));
            Assert.Equal(data.Plan.Parts.Sum(p => p.Rows), rounds[^1].Aggregate.TotalSamples);
            Assert.True(rounds[^1].Evaluation.Accuracy >= 0.95, $"final accuracy {rounds[^1].Evaluation.Accuracy:F4} is below 0.95");
        }
        finally
        {
            foreach (var workload in workloads)
            {
                await workload.DisposeAsync();
            }
        }
    }

    [Theory]
    [InlineData("median")]
    [InlineData("trimmed-mean:0.2")]
    public async Task RobustAggregation_RejectsOnlyThePoisonedVPodEveryRound_WhenOneOfTenSendsAScaledUpdate(string robust)
    {
        var digits = BuiltInDatasets.LoadDigits();
        var spec = new FederatedJobSpec
        {
            ComputeCluster = "compute",
            ValidatorCluster = "validators",
            Dataset = BuiltInDatasets.Digits,
            Partition = PartitionScheme.Dirichlet(0.5),
            Rounds = 5,
            LocalEpochs = 5,
            BatchSize = 16,
            LearningRate = 0.1,
            MinParticipants = 9,
            Seed = 3,
            Robust = AggregationRule.Parse(robust),
        };
        using var data = FederationTestData.Create(digits, spec.Partition, 10, spec.Seed);
        var workloads = new List<InProcessWorkload>();
        try
        {
            foreach (var id in data.ComputeIds.Append(data.ValidatorId))
            {
                workloads.Add(await InProcessWorkload.StartAsync(id, data.DataDirectory(id)));
            }

            var compute = data.ComputeIds.Select((id, i) => (id, workloads[i].Endpoint)).ToDictionary(e => e.id, e => e.Endpoint);
            const string attacker = "vpod-c04";
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
            var simulation = new FederatedSimulation(new FederatedWorkloadClient(http), "job-robust", spec);

            // The attacker signs what it sends: a consistent receipt over an update pushed 50 times further, in the opposite direction.
            var rounds = await simulation.RunAsync(compute, workloads[^1].Endpoint, digits.Classes, digits.Features, (round, update) =>
            {
                if (update.Receipt.VPodId != attacker)
                {
                    return update;
                }

                var poisoned = new FederatedModel(update.Model.Classes, update.Model.Features, [.. update.Model.Parameters.Select(p => -50 * p)]);
                return new ModelUpdate(update.Receipt with { UpdateHash = ModelEncoding.HashHex(poisoned) }, poisoned);
            });

            foreach (var round in rounds)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{robust} round {round.Aggregate.Round}: accuracy {round.Evaluation.Accuracy:F4}, rejected {string.Join("; ", round.Aggregate.Rejected)}"));
            }

            Assert.All(rounds, r => Assert.Equal(attacker, Assert.Single(r.Aggregate.Rejected).VPodId));
            Assert.All(rounds, r => Assert.Equal(9, r.Aggregate.Participants.Count));
            Assert.True(rounds[^1].Evaluation.Accuracy >= 0.9, $"accuracy {rounds[^1].Evaluation.Accuracy:F4} after 5 robust rounds");
        }
        finally
        {
            foreach (var workload in workloads)
            {
                await workload.DisposeAsync();
            }
        }
    }

    /// <summary>For comparison only: the same model trained centrally on all training rows.</summary>
    private static double CentralAccuracy(FederatedDataPlan plan, Standardization standardization)
    {
        var rows = plan.Parts.Sum(p => p.Rows);
        var values = plan.Parts.SelectMany(p => p.Values).ToArray();
        var labels = plan.Parts.SelectMany(p => p.Labels).ToArray();
        SoftmaxRegression.Standardize(values, plan.Test.Features, standardization.Mean, standardization.Scale);
        var parameters = new double[FederatedModel.ParameterCount(plan.Test.Classes, plan.Test.Features)];
        SoftmaxRegression.Train(parameters, plan.Test.Classes, plan.Test.Features, values, labels, new TrainingSettings(50, 16, 0.1, 1));
        var test = (double[])plan.Test.Values.Clone();
        SoftmaxRegression.Standardize(test, plan.Test.Features, standardization.Mean, standardization.Scale);
        Assert.Equal(rows, labels.Length);
        return SoftmaxRegression.Evaluate(parameters, plan.Test.Classes, plan.Test.Features, test, plan.Test.Labels).Accuracy;
    }
}
