using System.Diagnostics;
using System.Globalization;
using MetaNode.Chain;
using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.VPods;
using Microsoft.Data.Sqlite;
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
    /// <summary>
    /// <c>federated [R] [WARMUP] [ANVIL] [compare|history]</c>: with <c>compare</c>, the same fresh-silo run twice, side by side: the
    /// reference workload compiled on first use (the plain build beside the silo), then as the process runtime starts it by default
    /// (compiled ahead of time, <c>workload/</c>). With <c>history</c>: the job keeping every finalized round in its own state (a
    /// history page as large as the option allows), then moving them to its history every 8 rounds (the default). With <c>burst</c>:
    /// the vPods' cgroups without CFS burst, then with it (the default: a vPod may spend a quota it saved up while idle at once).
    /// </summary>
    public static async Task RunAsync(string[] args)
    {
        var compare = args.Contains("compare", StringComparer.Ordinal);
        var history = args.Contains("history", StringComparer.Ordinal);
        var burst = args.Contains("burst", StringComparer.Ordinal);
        args = [.. args.Where(a => a is not ("compare" or "history" or "burst"))];
        var rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
        var warmupRounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : rounds;
        var anvilPath = args.Length > 2 ? args[2] : null;
        if (history)
        {
            var inState = await RunOnceAsync(rounds, warmupRounds, anvilPath, new() { ["MetaNode:Federation:Jobs:HistoryPageRounds"] = FederatedJobOptionsValidator.MaxHistoryPageRounds.ToString(CultureInfo.InvariantCulture) }, "every round in the job's state");
            var paged = await RunOnceAsync(rounds, warmupRounds, anvilPath, [], "rounds moved to the job's history every 8 (the default)");
            Console.WriteLine();
            Console.WriteLine("| job state | stored job state at the end | overhead: median | p90 | max | last quarter of the rounds: median | p90 |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
            foreach (var run in new[] { inState, paged })
            {
                var later = run.Status.Timings.Skip(1).Select(t => t.OverheadMs).Order().ToList();
                var last = run.Status.Timings.Skip(run.Status.Timings.Count * 3 / 4).Select(t => t.OverheadMs).Order().ToList();
                Console.WriteLine(FormattableString.Invariant(
                    $"| {run.Label} | {run.JobStateBytes / 1024.0:F1} KiB | {Percentile(later, 0.5):F0} ms | {Percentile(later, 0.9):F0} ms | {later.LastOrDefault():F0} ms | {Percentile(last, 0.5):F0} ms | {Percentile(last, 0.9):F0} ms |"));
            }

            return;
        }

        if (burst)
        {
            var without = await RunOnceAsync(rounds, warmupRounds, anvilPath, new() { ["MetaNode:Runtime:Process:Isolation:CpuBurstPercent"] = "0" }, "no cpu burst");
            var with = await RunOnceAsync(rounds, warmupRounds, anvilPath, [], "cpu burst of one quota (the default)");
            PrintSideBySide("vPods' cgroups", without, with);
            return;
        }

        if (!compare)
        {
            await RunOnceAsync(rounds, warmupRounds, anvilPath, [], label: "reference workload as the process runtime starts it");
            return;
        }

        var onFirstUse = await RunOnceAsync(rounds, warmupRounds, anvilPath, new() { ["MetaNode:Runtime:Process:ReferenceWorkloadPath"] = Path.Combine(AppContext.BaseDirectory, "MetaNode.Workload.dll") }, "compiled on first use");
        var aheadOfTime = await RunOnceAsync(rounds, warmupRounds, anvilPath, [], "compiled ahead of time (workload/, the default)");
        PrintSideBySide("reference workload", onFirstUse, aheadOfTime);
        Console.WriteLine(FormattableString.Invariant(
            $"ahead of time / on first use: round 1 {aheadOfTime.Status.Timings[0].TotalMs / onFirstUse.Status.Timings[0].TotalMs:F2}x, validators healthy {aheadOfTime.ValidatorStart / onFirstUse.ValidatorStart:F2}x"));
    }

    /// <summary>Fresh-silo runs side by side: how long their vPods took to start, round 1, and the later rounds' overhead.</summary>
    private static void PrintSideBySide(string what, params RunResult[] runs)
    {
        Console.WriteLine();
        Console.WriteLine($"| {what} | compute vPods healthy | validators healthy | round 1 | its aggregation | overhead, later rounds: median | p90 | max | validators' cpu per round |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var run in runs)
        {
            var first = run.Status.Timings[0];
            var later = run.Status.Timings.Skip(1).Select(t => t.OverheadMs).Order().ToList();
            Console.WriteLine(FormattableString.Invariant(
                $"| {run.Label} | {run.ComputeStart.TotalMilliseconds:F0} ms | {run.ValidatorStart.TotalMilliseconds:F0} ms | {first.TotalMs:F0} ms | {first.AggregationMs:F0} ms | {Percentile(later, 0.5):F0} ms | {Percentile(later, 0.9):F0} ms | {later.LastOrDefault():F0} ms | {run.ValidatorCpuPerRound.TotalMilliseconds:F1} ms |"));
        }
    }

    /// <summary>What one fresh silo's job measured, and how long its vPods took to become healthy.</summary>
    internal sealed record RunResult(string Label, TimeSpan ComputeStart, TimeSpan ValidatorStart, FederatedJobStatus Status, long JobStateBytes, TimeSpan ValidatorCpuPerRound);

    /// <summary>The nearest-rank percentile of sorted values (0 when there are none).</summary>
    internal static double Percentile(IReadOnlyList<double> sorted, double fraction) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static async Task<RunResult> RunOnceAsync(int rounds, int warmupRounds, string? anvilPath, Dictionary<string, string?> extraSettings, string label)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-bench-fl", Guid.NewGuid().ToString("N")[..8]);
        using var anvil = await BenchAnvil.StartAsync(anvilPath);
        try
        {
            var key = EthECKey.GenerateKey();
            await anvil.FundAsync(key.GetPublicAddress());
            var settings = JobSiloSettings(anvil, key);
            foreach (var (name, value) in extraSettings)
            {
                settings[name] = value;
            }

            await using var cluster = await BenchHost.StartSiloAsync(dataDirectory, settings);
            var grains = cluster.Client;
            var computeStart = await DeployAsync(grains, "bench-compute", 10, VPodType.Compute);
            var validatorStart = await DeployAsync(grains, "bench-validators", 3, VPodType.Validator);
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
            var cpuBefore = ValidatorCpu(dataDirectory);
            var (status, elapsed) = await RunJobAsync(grains, spec);
            var validatorCpu = ValidatorCpu(dataDirectory) - cpuBefore;
            var jobStateBytes = JobStateBytes(dataDirectory, status.JobId);

            var paused = GC.GetTotalPauseDuration() - pausedBefore;
            Console.WriteLine();
            Console.WriteLine(FormattableString.Invariant($"{label}: 10 compute vPods healthy after {computeStart.TotalMilliseconds:F0} ms, 3 validators after {validatorStart.TotalMilliseconds:F0} ms (100 millicores each)"));
            Console.WriteLine(FormattableString.Invariant($"the job's stored state at the end: {jobStateBytes} bytes (written at every step of every round)"));
            Console.WriteLine(FormattableString.Invariant($"validators' CPU during the job: {validatorCpu.TotalMilliseconds / 3 / rounds:F1} ms per validator per round ({validatorCpu.TotalMilliseconds:F0} ms in all; ticks of 10 ms)"));
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
                Console.WriteLine(FormattableString.Invariant($"orchestration overhead (round − slowest training), rounds 2..{status.Timings.Count}: median {Percentile(steady, 0.5):F0} ms, p90 {Percentile(steady, 0.9):F0} ms, min {steady[0]:F0} ms, max {steady[^1]:F0} ms"));
            }

            await DeleteClustersAsync(grains, "bench-compute", "bench-validators");

            await cluster.StopAllSilosAsync();
            return new RunResult(label, computeStart, validatorStart, status, jobStateBytes, validatorCpu / 3 / rounds);
        }
        finally
        {
            BenchHost.DeleteDirectory(dataDirectory);
            BenchHost.DeleteDirectory(dataDirectory + "-vpods"); // the process vPods' data, logs and keys, beside the silo's
        }
    }

    /// <summary>The size of the job's stored state in the silo's SQLite database (the bytes each of its writes carries).</summary>
    private static long JobStateBytes(string dataDirectory, string jobId)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(dataDirectory, "metanode.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT length(payload) FROM grain_state WHERE state_name = 'job' AND grain_id LIKE $id";
        command.Parameters.AddWithValue("$id", "%" + jobId);
        return command.ExecuteScalar() is long length ? length : -1;
    }

    /// <summary>The CPU time the validators' workload processes have used so far.</summary>
    private static TimeSpan ValidatorCpu(string dataDirectory) =>
        ProcCensus.Workloads(dataDirectory + "-vpods", [])
            .Where(w => w.VPodId.StartsWith("vpod-bench-validators-", StringComparison.Ordinal))
            .Aggregate(TimeSpan.Zero, (sum, w) => sum + ProcCensus.CpuTime(w.Pid));

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

    /// <summary>Deploys the cluster and returns how long it took until every member was Running and healthy.</summary>
    internal static async Task<TimeSpan> DeployAsync(IGrainFactory grains, string name, int count, VPodType type, long cpuMillis = 100)
    {
        var watch = Stopwatch.StartNew();
        var cluster = grains.GetGrain<IVPodClusterGrain>(name);
        await cluster.DeployAsync(new ClusterSpec { Name = name, Count = count, MemberType = type, CpuMillis = cpuMillis, MemoryBytes = 200L << 20 });
        await WaitHealthyAsync(grains, name, count);
        return watch.Elapsed;
    }

    /// <summary>
    /// Deletes the clusters, and with them their members and the members' cgroups and directories. Deleting the members one by one
    /// instead would have the cluster replace them, and the replacements outlive the bench.
    /// </summary>
    internal static async Task DeleteClustersAsync(IGrainFactory grains, params string[] names)
    {
        foreach (var name in names)
        {
            await grains.GetGrain<IVPodClusterGrain>(name).DeleteAsync();
        }
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
