using System.Diagnostics;
using System.Globalization;
using MetaNode.Chain;
using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.VPods;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Signer;

namespace MetaNode.Bench;

/// <summary>
/// Round wall time of a federated-average job split into dispatch, local training (slowest vPod), stream delivery,
/// aggregation and finalization, and the orchestration overhead (round − slowest training): 10 compute and 3 validator
/// process vPods running the reference workload, one silo, a local anvil.
/// </summary>
internal static class FederatedRoundBench
{
    public static async Task RunAsync(string[] args)
    {
        var rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
        var warmupRounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : rounds;
        var dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-bench-fl", Guid.NewGuid().ToString("N")[..8]);
        using var anvil = await BenchAnvil.StartAsync(args.Length > 2 ? args[2] : null);
        try
        {
            var key = EthECKey.GenerateKey();
            await anvil.FundAsync(key.GetPublicAddress());
            var settings = JobSiloSettings(anvil, key);
            settings["MetaNode:Chain:VPodKeyScryptN"] = "1024";
            await using var cluster = await BenchHost.StartSiloAsync(dataDirectory, settings);
            var grains = cluster.Client;
            await DeployAsync(grains, "bench-compute", 10, VPodType.Compute);
            await DeployAsync(grains, "bench-validators", 3, VPodType.Validator);
            await grains.GetGrain<IChainGrain>(ChainKeys.Default).DeployRegistryAsync(new DeployRegistryCommand { Threshold = 2 });

            var spec = new FederatedJobSpec
            {
                ComputeCluster = "bench-compute",
                ValidatorCluster = "bench-validators",
                Dataset = "digits",
                Partition = PartitionScheme.Dirichlet(0.5),
                Rounds = rounds,
                MinParticipants = 10,
                Quorum = 2,
                Seed = 1,
            };
            // A silo that has just started compiles its hot paths again, optimized, in the background (tiered JIT), which on a
            // small machine competes with the first rounds: a warm-up job runs first, as a long-running silo would have.
            if (warmupRounds > 0)
            {
                var warmup = await RunJobAsync(grains, spec with { Rounds = warmupRounds });
                Console.WriteLine(FormattableString.Invariant($"warm-up job: {warmupRounds} rounds, {warmup.Status.Phase} in {warmup.Elapsed.TotalSeconds:F1} s"));
            }

            var pausedBefore = GC.GetTotalPauseDuration();
            var collectionsBefore = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
            var (status, elapsed) = await RunJobAsync(grains, spec);

            var paused = GC.GetTotalPauseDuration() - pausedBefore;
            Console.WriteLine(FormattableString.Invariant($"silo process GC during the job: {paused.TotalMilliseconds:F0} ms paused; collections gen0 {GC.CollectionCount(0) - collectionsBefore.Item1}, gen1 {GC.CollectionCount(1) - collectionsBefore.Item2}, gen2 {GC.CollectionCount(2) - collectionsBefore.Item3}"));
            Console.WriteLine(FormattableString.Invariant($"federated-average, digits, Dirichlet(0.5), 10 compute + 3 validator process vPods, quorum 2, anvil; {status.Phase} in {elapsed.TotalSeconds:F1} s, final accuracy {status.FinalAccuracy:F4}"));
            Console.WriteLine("| round | accuracy | total ms | dispatch | slowest training | collected at | stream delivery | aggregation | finalization | overhead | gas |");
            Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var (result, t) in status.Results.Zip(status.Timings))
            {
                Console.WriteLine(FormattableString.Invariant($"| {t.Round} | {result.Accuracy:F4} | {t.TotalMs:F0} | {t.DispatchMs:F0} | {t.SlowestTrainingMs:F0} | {t.CollectionMs:F0} | {t.StreamDeliveryMs:F0} | {t.AggregationMs:F0} | {t.FinalizationMs:F0} | {t.OverheadMs:F0} | {t.GasUsed} |"));
            }

            // Round 1 includes first-call warm-up (JIT, connections); the steady state is the median of the others.
            var steady = status.Timings.Skip(1).Select(t => t.OverheadMs).Order().ToList();
            if (steady.Count > 0)
            {
                Console.WriteLine(FormattableString.Invariant($"orchestration overhead (round − slowest training), rounds 2..{status.Timings.Count}: median {steady[steady.Count / 2]:F0} ms, min {steady[0]:F0} ms, max {steady[^1]:F0} ms"));
            }

            foreach (var summary in await grains.GetGrain<IVPodRegistryGrain>(VPodRegistryKeys.Default).ListAsync())
            {
                await grains.GetGrain<IVPodGrain>(summary.Id).DeleteAsync(new StopOptions(Force: true));
            }

            await cluster.StopAllSilosAsync();
        }
        finally
        {
            BenchHost.DeleteDirectory(dataDirectory);
            BenchHost.DeleteDirectory(dataDirectory + "-vpods"); // the process vPods' data, logs and keys, beside the silo's

        }
    }

    /// <summary>A silo that runs jobs on the bench's anvil, submitting with <paramref name="key"/> (funded there).</summary>
    internal static Dictionary<string, string?> JobSiloSettings(BenchAnvil anvil, EthECKey key) => new()
    {
        ["MetaNode:Chain:RpcUrl"] = anvil.RpcUrl,
        ["MetaNode:Chain:ChainId"] = "31337",
        ["MetaNode:Chain:AccountPrivateKey"] = key.GetPrivateKeyAsBytes().ToHex(prefix: true),
        ["MetaNode:Chain:ReceiptPollInterval"] = "00:00:00.010",
        ["MetaNode:VPods:ProbeInterval"] = "00:00:01",
        ["MetaNode:Federation:Jobs:PumpInterval"] = "00:00:00.100",
    };

    internal static async Task<(FederatedJobStatus Status, TimeSpan Elapsed)> RunJobAsync(IGrainFactory grains, FederatedJobSpec spec)
    {
        var jobId = "bench-" + Guid.NewGuid().ToString("N")[..8];
        var watch = Stopwatch.StartNew();
        await grains.GetGrain<IFederatedJobGrain>(jobId).StartAsync(spec);
        FederatedJobStatus status;
        do
        {
            await Task.Delay(200);
            status = await grains.GetGrain<IFederatedJobGrain>(jobId).GetStatusAsync();
        }
        while (!status.IsFinished);
        return (status, watch.Elapsed);
    }

    internal static async Task DeployAsync(IGrainFactory grains, string name, int count, VPodType type, long cpuMillis = 100)
    {
        var cluster = grains.GetGrain<IVPodClusterGrain>(name);
        await cluster.DeployAsync(new ClusterSpec { Name = name, Count = count, MemberType = type, CpuMillis = cpuMillis, MemoryBytes = 200L << 20 });
        await WaitHealthyAsync(grains, name, count);
    }

    internal static async Task WaitHealthyAsync(IGrainFactory grains, string name, int count)
    {
        var cluster = grains.GetGrain<IVPodClusterGrain>(name);
        var limit = Stopwatch.StartNew();
        while ((await cluster.GetStatusAsync()).Members.Count(m => m.Phase == VPodPhase.Running && m.Health == VPodHealth.Healthy) < count)
        {
            if (limit.Elapsed > TimeSpan.FromMinutes(4))
            {
                throw new TimeoutException($"cluster {name} did not get {count} healthy members in 4 minutes.");
            }

            await Task.Delay(200);
        }
    }
}
