using System.Globalization;
using MetaNode.Bench;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using Xunit.Abstractions;

namespace MetaNode.Tests.Federation;

/// <summary>
/// The quality floor of the job's defaults, on the job's own arithmetic replayed in process (<see cref="FederatedReplay"/>, which the
/// job tests check against real jobs byte for byte): digits, Dirichlet(0.5), 10 compute vPods, 10 rounds, E = 5, B = 16, lr = 0.1.
/// </summary>
public sealed class ServerOptimizerQualityTests(ITestOutputHelper output)
{
    public static TheoryData<ulong> FloorSeeds => [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 42];

    [Theory]
    [MemberData(nameof(FloorSeeds))]
    public void DefaultServerOptimizer_ReachesTheFloorOf095_OnDigitsWithDirichletHalf(ulong seed)
    {
        var spec = FederatedJobSpecParser.Parse(new FederatedJobArguments { ComputeCluster = "compute", ValidatorCluster = "validators", Dataset = "digits" });
        var replay = FederatedReplay.Run(BuiltInDatasets.LoadDigits(), PartitionScheme.Dirichlet(0.5), 10, seed, spec.Rounds, spec.ServerOptimizer!, spec.ProximalMu, spec.LocalEpochs, spec.BatchSize, spec.LearningRate, spec.TestFraction);

        output.WriteLine(string.Join(", ", replay.Select(r => r.Accuracy.ToString("F4", CultureInfo.InvariantCulture))));
        Assert.Equal(ServerOptimizer.Default, spec.ServerOptimizer);
        Assert.True(replay[^1].Accuracy >= 0.95, $"seed {seed}: final accuracy {replay[^1].Accuracy:F4} with {spec.ServerOptimizer}");
    }

    [Theory]
    [InlineData("synthetic")]
    [InlineData("blobs")]
    public void DefaultServerOptimizer_IsNotWorseThanFederatedAveraging_OnOtherData(string dataset)
    {
        ulong[] seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 42];
        var averaged = new List<double>();
        var optimized = new List<double>();
        foreach (var seed in seeds)
        {
            var data = dataset == "blobs"
                ? FederatedReplay.Blobs()
                : SyntheticDatasetGenerator.Generate(new SyntheticDatasetOptions { Seed = FederatedSeeds.Derive(seed, FederatedSeeds.SyntheticPurpose) }).Dataset;
            averaged.Add(FederatedReplay.Run(data, PartitionScheme.Dirichlet(0.5), 10, seed, 10, ServerOptimizer.Average)[^1].Accuracy);
            optimized.Add(FederatedReplay.Run(data, PartitionScheme.Dirichlet(0.5), 10, seed, 10, ServerOptimizer.Default)[^1].Accuracy);
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{dataset}: avg mean {averaged.Average():F4} min {averaged.Min():F4}; default mean {optimized.Average():F4} min {optimized.Min():F4}"));
        Assert.True(optimized.Average() >= averaged.Average(), $"{dataset}: the default's mean final accuracy {optimized.Average():F4} is below federated averaging's {averaged.Average():F4}");
        Assert.True(optimized.Min() >= averaged.Min(), $"{dataset}: the default's worst seed {optimized.Min():F4} is below federated averaging's {averaged.Min():F4}");
    }
}
