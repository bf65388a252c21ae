using System.Diagnostics;
using System.Globalization;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
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
}
