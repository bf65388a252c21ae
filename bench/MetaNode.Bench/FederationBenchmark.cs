using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Grains.Runtime;
using MetaNode.Workload;
using MetaNode.Workload.Learning;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace MetaNode.Bench;

/// <summary>
/// Local training time per vPod partition on digits (Dirichlet(0.5), 10 parts, E=5, B=16, lr=0.1), in process and through the workload's
/// HTTP endpoint, and the validator's aggregation time for 10 updates.
/// </summary>
internal static class FederationBenchmark
{
    private const long ChainId = 31337;

    public static async Task RunAsync(string[] args)
    {
        var repetitions = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20;
        var digits = BuiltInDatasets.LoadDigits();
        var plan = DataPartitioner.Plan(digits, PartitionScheme.Dirichlet(0.5), 10, 0.2, 3);
        var standardization = StandardizationCombiner.Combine(plan.Parts.Select((p, i) => StandardizationCombiner.Moments($"vpod-{i:D2}", p, [.. Enumerable.Range(0, p.Rows)])));
        var settings = new TrainingSettings(5, 16, 0.1, 1);

        // Warm-up: let the JIT reach optimized code before anything is timed.
        for (var round = 0; round < 30; round++)
        {
            foreach (var part in plan.Parts)
            {
                SoftmaxRegression.Train(new double[FederatedModel.ParameterCount(part.Classes, part.Features)], part.Classes, part.Features, part.Values, part.Labels, settings);
            }
        }

        Console.WriteLine($"digits: {digits.Rows} rows x {digits.Features} features; 10 Dirichlet(0.5) partitions; E=5, B=16, lr=0.1; median of {repetitions} runs");
        Console.WriteLine("| partition | rows | local training (ms) | µs per sample-epoch |");
        Console.WriteLine("|---:|---:|---:|---:|");
        var updates = new List<ModelUpdate>();
        var participants = new List<RoundParticipant>();
        var slowest = 0.0;
        for (var i = 0; i < plan.Parts.Count; i++)
        {
            var part = plan.Parts[i];
            var values = (double[])part.Values.Clone();
            SoftmaxRegression.Standardize(values, part.Features, standardization.Mean, standardization.Scale);
            double[] parameters = [];
            var median = Median(repetitions, () =>
            {
                parameters = new double[FederatedModel.ParameterCount(part.Classes, part.Features)];
                SoftmaxRegression.Train(parameters, part.Classes, part.Features, values, part.Labels, settings);
            });
            slowest = Math.Max(slowest, median);
            Console.WriteLine(FormattableString.Invariant($"| {i} | {part.Rows} | {median:F2} | {median * 1000 / (part.Rows * settings.Epochs):F2} |"));
            var model = new FederatedModel(part.Classes, part.Features, parameters);
            var key = RandomNumberGenerator.GetBytes(32);
            var receipt = new TrainingReceipt("bench", 1, $"vpod-{i:D2}", part.Rows, ModelEncoding.HashHex(model));
            receipt = receipt with { Signature = FederationHashing.ToHex(EthereumSignatures.Sign(key, VPodTypedData.ReceiptDigest(receipt, ChainId))) };
            participants.Add(new RoundParticipant(receipt.VPodId, EthereumSignatures.AddressOf(key), part.Rows));
            updates.Add(new ModelUpdate(receipt, model));
        }

        Console.WriteLine(FormattableString.Invariant($"slowest vPod's local training: {slowest:F2} ms"));
        await HttpTrainingAsync(plan, standardization, repetitions);

        var global = FederatedModel.Zero(digits.Classes, digits.Features);
        var weighted = updates.Select(u => new WeightedModel(u.Receipt.VPodId, u.Receipt.SampleCount, u.Model)).ToList();
        Console.WriteLine($"aggregation of 10 updates ({global.Parameters.Length} parameters each), median of {repetitions * 10} runs:");
        Console.WriteLine("| step | µs |");
        Console.WriteLine("|---|---:|");
        Row("FedAvg (canonical order)", Median(repetitions * 10, () => ModelAggregation.FederatedAverage(weighted)));
        Row("coordinate-wise median", Median(repetitions * 10, () => ModelAggregation.Median(weighted)));
        Row("trimmed mean 0.2", Median(repetitions * 10, () => ModelAggregation.TrimmedMean(weighted, 0.2)));
        Row("canonical encoding + keccak of one model", Median(repetitions * 10, () => ModelEncoding.Hash(global)));
        Row("validator round, FedAvg (verify 10 update hashes and signatures, aggregate, hash, Merkle root)", Median(repetitions * 10, () => RoundAggregator.Aggregate(new RoundFacts("bench", 1, ChainId, global, AggregationRule.FederatedAverage, participants), updates)));
        Row("validator round, trimmed-mean:0.2 with screening", Median(repetitions * 10, () => RoundAggregator.Aggregate(new RoundFacts("bench", 1, ChainId, global, AggregationRule.TrimmedMean(0.2), participants), updates)));
    }

    private static async Task HttpTrainingAsync(FederatedDataPlan plan, Standardization standardization, int repetitions)
    {
        var directory = Path.Combine(Path.GetTempPath(), "metanode-bench", Guid.NewGuid().ToString("N")[..8]);
        var largest = plan.Parts.MaxBy(p => p.Rows)!;
        DataDirectoryWriter.Write(directory, PartitionWriter.Files(new PartitionDescription("digits", "dirichlet:0.5", 0, 1, 3), largest, null));
        var app = WorkloadApp.Create(new WorkloadSettings("127.0.0.1", IPAddress.Loopback, 0, "vpod-bench", directory, directory + "-key"), minimumLevel: Microsoft.Extensions.Logging.LogLevel.Warning);
        await app.StartAsync();
        try
        {
            var endpoint = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
            using var http = new HttpClient();
            var client = new FederatedWorkloadClient(http);
            var global = FederatedModel.Zero(largest.Classes, largest.Features);
            var hyper = new TrainingHyperParameters(5, 16, 0.1, 1);
            await client.TrainAsync(endpoint, "bench", 1, ChainId, null, global, standardization, hyper);
            var times = new List<double>();
            for (var i = 0; i < repetitions; i++)
            {
                var watch = Stopwatch.StartNew();
                await client.TrainAsync(endpoint, "bench", 1, ChainId, null, global, standardization, hyper);
                times.Add(watch.Elapsed.TotalMilliseconds);
            }

            times.Sort();
            Console.WriteLine(FormattableString.Invariant($"POST /v2/train over loopback HTTP, largest partition ({largest.Rows} rows): {times[times.Count / 2]:F2} ms median (JSON model in and out, training included)"));
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            Directory.Delete(directory, recursive: true);
            Directory.Delete(directory + "-key", recursive: true);
        }
    }

    private static void Row(string step, double milliseconds) =>
        Console.WriteLine(FormattableString.Invariant($"| {step} | {milliseconds * 1000:F1} |"));

    /// <summary>Median wall time in milliseconds, after three warm-up runs.</summary>
    private static double Median(int runs, Action action)
    {
        for (var i = 0; i < 3; i++)
        {
            action();
        }

        var times = new double[runs];
        for (var i = 0; i < runs; i++)
        {
            var started = Stopwatch.GetTimestamp();
            action();
            times[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }

        Array.Sort(times);
        return times[runs / 2];
    }
}
