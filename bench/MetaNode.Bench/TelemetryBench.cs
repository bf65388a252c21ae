using System.Diagnostics;
using System.Globalization;
using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Silo.Hosting;
using MetaNode.VPods;
using Nethereum.Signer;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace MetaNode.Bench;

/// <summary>
/// `telemetry [SECONDS] [ROUNDS] [JOB-ROUNDS] [JOBS]`: what metrics and tracing cost, side by side on one silo. Status calls (16 callers)
/// and federated rounds (10 compute, 3 validator process vPods, anvil) alternate between telemetry off and on — on is the silo's
/// meters read every second (as a scrape would) and its tracer with the round sampler, both exporting in memory.
/// </summary>
internal static class TelemetryBench
{
    public static async Task RunAsync(string[] args)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 4;
        var jobRounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 5;
        var jobs = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 2;
        const int callers = 16;
        var dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-bench-otel", Guid.NewGuid().ToString("N")[..8]);
        using var anvil = await BenchAnvil.StartAsync(null);
        try
        {
            var key = EthECKey.GenerateKey();
            await anvil.FundAsync(key.GetPublicAddress());
            var settings = FederatedRoundBench.JobSiloSettings(anvil, key);
            await using var cluster = await BenchHost.StartSiloAsync(dataDirectory, settings);
            var grains = cluster.Client;
            var vpod = grains.GetGrain<IVPodGrain>("vpod-otelbench");
            await vpod.CreateAsync(new VPodSpec { Name = "otel", Command = ["/bin/sh", "-c", "exec sleep 600"], RestartPolicy = RestartPolicy.Never });
            await FederatedRoundBench.DeployAsync(grains, "otel-compute", 10, VPodType.Compute);
            await FederatedRoundBench.DeployAsync(grains, "otel-validators", 3, VPodType.Validator);
            await grains.GetGrain<IChainGrain>(ChainKeys.Default).DeployRegistryAsync(new DeployRegistryCommand { Threshold = 2 });
            var spec = new FederatedJobSpec
            {
                ComputeCluster = "otel-compute",
                ValidatorCluster = "otel-validators",
                Dataset = "digits",
                Partition = PartitionScheme.Dirichlet(0.5),
                Rounds = jobRounds,
                MinParticipants = 10,
                Quorum = 2,
                Seed = 1,
            };

            // Warm-up: the JIT's optimized code for both paths.
            await Calls(() => vpod.GetStatusAsync(), callers, TimeSpan.FromSeconds(1));
            await FederatedRoundBench.RunJobAsync(grains, spec with { Rounds = 2 });

            var off = new List<double>();
            var metricsOnly = new List<double>();
            var tracingOnly = new List<double>();
            var on = new List<double>();
            var withMessages = new List<double>();
            for (var round = 0; round < rounds; round++)
            {
                using (Telemetry(out _, orleansMessages: true))
                {
                    withMessages.Add(await Calls(() => vpod.GetStatusAsync(), callers, TimeSpan.FromSeconds(seconds)));
                }

                off.Add(await Calls(() => vpod.GetStatusAsync(), callers, TimeSpan.FromSeconds(seconds)));
                using (Telemetry(out _, metrics: true, tracing: false))
                {
                    metricsOnly.Add(await Calls(() => vpod.GetStatusAsync(), callers, TimeSpan.FromSeconds(seconds)));
                }

                using (Telemetry(out _, metrics: false, tracing: true))
                {
                    tracingOnly.Add(await Calls(() => vpod.GetStatusAsync(), callers, TimeSpan.FromSeconds(seconds)));
                }

                using (Telemetry(out _))
                {
                    on.Add(await Calls(() => vpod.GetStatusAsync(), callers, TimeSpan.FromSeconds(seconds)));
                }
            }

            var overheadOff = new List<double>();
            var overheadOn = new List<double>();
            var spans = 0;
            for (var job = 0; job < jobs; job++)
            {
                overheadOff.AddRange(Overheads((await FederatedRoundBench.RunJobAsync(grains, spec)).Status));
                var recorded = new List<Activity>();
                using (Telemetry(out recorded))
                {
                    overheadOn.AddRange(Overheads((await FederatedRoundBench.RunJobAsync(grains, spec)).Status));
                }

                spans += recorded.Count;
            }

            Console.WriteLine(FormattableString.Invariant($"vPod status calls, {callers} callers, {rounds} alternating rounds of {seconds} s"));
            Console.WriteLine("| telemetry | calls/s (mean) | per round |");
            Console.WriteLine("|---|---:|---|");
            Console.WriteLine(Row("off", off));
            Console.WriteLine(Row("metrics on", metricsOnly));
            Console.WriteLine(Row("tracing on", tracingOnly));
            Console.WriteLine(Row("metrics + tracing on (the default)", on));
            Console.WriteLine(Row("… and Orleans' per-message metrics", withMessages));
            Console.WriteLine(FormattableString.Invariant($"throughput on/off: {on.Average() / off.Average():P1} (cost {1 - (on.Average() / off.Average()):P1}); with Orleans' per-message metrics {withMessages.Average() / off.Average():P1}"));
            Console.WriteLine(FormattableString.Invariant($"round overhead (round − slowest training), rounds 2..{jobRounds} of {jobs} jobs each: off median {Median(overheadOff):F0} ms (p90 {P90(overheadOff):F0}), on median {Median(overheadOn):F0} ms (p90 {P90(overheadOn):F0}); {spans} spans recorded with tracing on"));

            await FederatedRoundBench.DeleteClustersAsync(grains, "otel-compute", "otel-validators");

            await cluster.StopAllSilosAsync();
        }
        finally
        {
            BenchHost.DeleteDirectory(dataDirectory);
            BenchHost.DeleteDirectory(dataDirectory + "-vpods");
        }
    }

    private static string Row(string name, List<double> values) =>
        FormattableString.Invariant($"| {name} | {values.Average():N0} | {string.Join(", ", values.Select(v => v.ToString("N0", CultureInfo.InvariantCulture)))} |");

    /// <summary>The silo's meters, read every second, and its tracer; both in memory. Disposing turns them off.</summary>
    private static IDisposable Telemetry(out List<Activity> spans, bool metrics = true, bool tracing = true, bool orleansMessages = false)
    {
        var recorded = new List<Activity>();
        spans = recorded;
        var points = new List<Metric>();
        var meter = metrics
            ? Sdk.CreateMeterProviderBuilder().AddMetaNodeMeters(new TelemetryOptions { OrleansMessageMetrics = orleansMessages }).AddInMemoryExporter(points, o => o.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = 1000).Build()
            : null;
        var tracer = tracing
            ? Sdk.CreateTracerProviderBuilder().SetSampler(RoundTraceSampler.Create()).AddSource(SiloTelemetry.Sources).AddInMemoryExporter(recorded).Build()
            : null;
        return new Both(meter, tracer);
    }

    private static IEnumerable<double> Overheads(FederatedJobStatus status) => status.Timings.Skip(1).Select(t => t.OverheadMs);

    private static double Median(List<double> values) => values.Count == 0 ? double.NaN : values.Order().ElementAt(values.Count / 2);

    private static double P90(List<double> values) => values.Count == 0 ? double.NaN : values.Order().ElementAt(Math.Min(values.Count - 1, (int)(values.Count * 0.9)));

    private static async Task<double> Calls(Func<Task> call, int callers, TimeSpan duration)
    {
        long count = 0;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, callers).Select(async _ =>
        {
            while (watch.Elapsed < duration)
            {
                await call();
                Interlocked.Increment(ref count);
            }
        }));
        return count / watch.Elapsed.TotalSeconds;
    }

    private sealed class Both(MeterProvider? meter, TracerProvider? tracer) : IDisposable
    {
        public void Dispose()
        {
            meter?.Dispose();
            tracer?.Dispose();
        }
    }
}
