using System.Diagnostics;
using System.Globalization;
using MetaNode.Client;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;

namespace MetaNode.Bench;

/// <summary>
/// Many vPods on real silo processes:
/// <list type="bullet">
/// <item><c>scale memory [N] [--docker]</c>: one silo; its resident set, threads, descriptors and sockets before and after N cheap
/// vPods (<c>exec sleep 600</c>; docker: the busybox image on the engine DOCKER_HOST names), and the cost per vPod.</item>
/// <item><c>scale restart [N]</c>: one silo with N process vPods; create time, then SIGTERM and start again on the same data
/// directory, and the time until all N run again with exactly one live workload each.</item>
/// <item><c>scale failover [N]</c>: three silos on a throwaway PostgreSQL with N process vPods; one silo is killed (SIGKILL), and the
/// time until all N run again is measured, with one record and one live workload per vPod (the killed silo's workloads included).</item>
/// </list>
/// </summary>
internal static class ScaleBench
{
    private const string BusyboxImage = "metanode/busybox:latest";
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(10);

    private static readonly string[] SingleSilo =
    [
        "--MetaNode:Tls:Insecure=true",
        "--MetaNode:Chain:DevChain:Enabled=false",
        "--Logging:LogLevel:Default=Warning",
    ];

    public static async Task<int> RunAsync(string[] args)
    {
        var mode = args.Length > 0 ? args[0] : "memory";
        var numbers = args.Skip(1).Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
        var docker = args.Contains("--docker");
        var settle = args.FirstOrDefault(a => a.StartsWith("--settle=", StringComparison.Ordinal)) is { } given ? TimeSpan.FromSeconds(Parse(given["--settle=".Length..])) : Settle;
        var root = Path.Combine(Path.GetTempPath(), "metanode-bench-scale", Guid.NewGuid().ToString("N")[..8]);
        try
        {
            switch (mode)
            {
                case "memory":
                    await MemoryAsync(root, numbers.Length > 0 ? Parse(numbers[0]) : 1000, docker, settle);
                    return 0;
                case "restart":
                    return await RestartAsync(root, numbers.Length > 0 ? Parse(numbers[0]) : 1000);
                case "failover":
                    return await FailoverAsync(root, numbers.Length > 0 ? Parse(numbers[0]) : 1000);
                default:
                    Console.Error.WriteLine("usage: scale memory [N] [--docker] | scale restart [N] | scale failover [N]");
                    return 2;
            }
        }
        finally
        {
            SiloProcess.KillWorkloadsUnder(root);
            BenchHost.DeleteDirectory(root);
        }
    }

    private static int Parse(string text) => int.Parse(text, CultureInfo.InvariantCulture);

    private static async Task MemoryAsync(string root, int count, bool docker, TimeSpan settle)
    {
        await using var silo = new SiloProcess(Path.Combine(root, "silo"), SingleSilo);
        await silo.StartAsync(TimeSpan.FromMinutes(2));
        await using var client = await ConnectAsync(silo);
        await Task.Delay(Settle);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var heapBefore = await ManagedHeapAsync(http, silo);
        var before = ProcCensus.Sample(silo.Pid);
        var watch = Stopwatch.StartNew();
        var ids = await CreateAsync(client, count, docker ? DeploymentMethod.Docker : DeploymentMethod.Process, RestartPolicy.Never);
        var created = watch.Elapsed;
        await WaitAsync(
            async () => (await client.ListVPodsAsync()).Count(s => ids.Contains(s.Id) && s.Phase is VPodPhase.Starting or VPodPhase.Running or VPodPhase.Degraded) == count,
            TimeSpan.FromMinutes(10),
            $"{count} vPods with a workload");
        var settled = Stopwatch.StartNew();
        var samples = new List<(TimeSpan At, ProcCensus.SiloSample Sample)>();
        do
        {
            await Task.Delay(Settle);
            samples.Add((settled.Elapsed, ProcCensus.Sample(silo.Pid)));
        }
        while (settled.Elapsed < settle);

        var after = samples[^1].Sample;
        var phases = (await client.ListVPodsAsync()).Where(s => ids.Contains(s.Id)).GroupBy(s => s.Phase).Select(g => $"{g.Key} {g.Count()}");
        Console.WriteLine(FormattableString.Invariant($"scale memory: {count} {(docker ? "docker" : "process")} vPods (exec sleep 600) on one silo, created in {created.TotalSeconds:F1} s; phases: {string.Join(", ", phases)}"));
        var heapAfter = await ManagedHeapAsync(http, silo);
        Console.WriteLine(FormattableString.Invariant($"managed heap after the last collection (/metrics, all generations): {heapBefore / 1048576.0:F1} → {heapAfter / 1048576.0:F1} MiB, {(heapAfter - heapBefore) / 1024.0 / count:F1} KiB per vPod; the rest is the silo process's own (/proc)"));
        Console.WriteLine("| silo | working set MiB | threads | descriptors | sockets |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        Row("before", before);
        foreach (var (at, sample) in samples)
        {
            Row(FormattableString.Invariant($"with {count} vPods, {at.TotalSeconds:F0} s after all started"), sample);
        }

        Console.WriteLine(FormattableString.Invariant(
            $"| per vPod | {(after.RssMiB - before.RssMiB) / count:F3} | {(after.Threads - before.Threads) / (double)count:F2} | {(after.Descriptors - before.Descriptors) / (double)count:F2} | {(after.Sockets - before.Sockets) / (double)count:F2} |"));
        await DeleteAsync(client, ids);
    }

    private static async Task<int> RestartAsync(string root, int count)
    {
        var silo = new SiloProcess(Path.Combine(root, "silo"), SingleSilo);
        try
        {
            await silo.StartAsync(TimeSpan.FromMinutes(2));
            HashSet<string> ids;
            TimeSpan created;
            await using (var client = await ConnectAsync(silo))
            {
                var watch = Stopwatch.StartNew();
                ids = await CreateAsync(client, count, DeploymentMethod.Process, RestartPolicy.Always);
                created = watch.Elapsed;
                var running = await AllRunningAsync(client, ids, root, () => [silo.Pid], TimeSpan.FromMinutes(10));
                Console.WriteLine(FormattableString.Invariant($"scale restart: {count} process vPods created in {created.TotalSeconds:F1} s ({count / created.TotalSeconds:F1} creates/s), then all Running {running.TotalSeconds:F1} s later"));
            }

            var atN = ProcCensus.Sample(silo.Pid);
            Console.WriteLine(FormattableString.Invariant($"silo with {count} vPods: working set {atN.RssMiB:F0} MiB, {atN.Threads} threads, {atN.Descriptors} descriptors, {atN.Sockets} sockets"));
            var stop = Stopwatch.StartNew();
            await silo.StopAsync(TimeSpan.FromMinutes(5));
            Console.WriteLine(FormattableString.Invariant($"SIGTERM: silo exited after {stop.Elapsed.TotalSeconds:F1} s (exit code {silo.ExitCode}); workloads left running: {ProcCensus.Workloads(root, []).Count}"));

            var restart = Stopwatch.StartNew();
            var healthy = await silo.StartAsync(TimeSpan.FromMinutes(2));
            await using var again = await ConnectAsync(silo);
            var all = await AllRunningAsync(again, ids, root, () => [silo.Pid], TimeSpan.FromMinutes(10));
            var total = restart.Elapsed;
            var census = Count(ids, ProcCensus.Workloads(root, [silo.Pid]));
            Console.WriteLine(FormattableString.Invariant($"restart: healthy after {healthy.TotalSeconds:F1} s, all {count} Running after {total.TotalSeconds:F1} s (target <= 60 s)"));
            Console.WriteLine($"workloads per vPod: {census}");
            await DeleteAsync(again, ids);
            return census.ExactlyOne == count && total <= TimeSpan.FromSeconds(60) ? 0 : 1;
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }

    private static async Task<int> FailoverAsync(string root, int count)
    {
        await using var postgres = await ClusterBench.Postgres.StartAsync(Path.Combine(root, "pg"));
        var connection = await postgres.CreateDatabaseAsync("scale");
        var silos = new List<SiloProcess>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                silos.Add(await ClusterBench.StartSiloAsync(root, connection, $"s{i}"));
            }

            await using var client = await MetaNodeClient.ConnectAsync(new MetaNodeClientOptions { ConnectionString = connection, ConnectTimeout = TimeSpan.FromSeconds(30), Identity = Path.Combine(root, "tls", "admin") });
            var watch = Stopwatch.StartNew();
            var ids = await CreateAsync(client, count, DeploymentMethod.Process, RestartPolicy.Always);
            var created = watch.Elapsed;
            var running = await AllRunningAsync(client, ids, root, () => silos.Select(s => s.Pid).ToArray(), TimeSpan.FromMinutes(10));
            var owners = ProcCensus.Workloads(root, silos.Select(s => s.Pid).ToArray()).GroupBy(w => w.Owner).ToDictionary(g => g.Key, g => g.Count());
            Console.WriteLine(FormattableString.Invariant($"scale failover: {count} process vPods on three silos created in {created.TotalSeconds:F1} s ({count / created.TotalSeconds:F1} creates/s), all Running after {running.TotalSeconds:F1} s; workloads per silo: {string.Join(", ", silos.Select(s => owners.GetValueOrDefault(s.Pid)))}"));

            Console.WriteLine($"working set per silo before the kill: {Memory(silos)}");
            var victim = silos.OrderByDescending(s => owners.GetValueOrDefault(s.Pid)).First();
            var lost = owners.GetValueOrDefault(victim.Pid);
            var kill = Stopwatch.StartNew();
            await victim.KillAsync();
            silos.Remove(victim);
            var declaredDead = DeclaredDeadAsync(connection, victim.SiloPort, kill);
            var left = ProcCensus.Workloads(root, silos.Select(s => s.Pid).ToArray()).Count(w => w.Owner == 0);
            await AllRunningAsync(client, ids, root, () => silos.Select(s => s.Pid).ToArray(), TimeSpan.FromMinutes(10));
            var all = kill.Elapsed;
            var dead = await declaredDead;
            Console.WriteLine(FormattableString.Invariant($"SIGKILL of the silo with {lost} workloads ({left} of them still running after it died): declared dead in the membership table after {dead.TotalSeconds:F1} s; all {count} Running again after {all.TotalSeconds:F1} s ({(all - dead).TotalSeconds:F1} s after the declaration; target <= 30 s in all)"));

            await Task.Delay(TimeSpan.FromSeconds(5));
            var records = (await client.ListVPodsAsync()).Where(s => ids.Contains(s.Id)).ToList();
            var census = Count(ids, ProcCensus.Workloads(root, silos.Select(s => s.Pid).ToArray()));
            Console.WriteLine($"5 s later: {records.Count} records for {count} vPods ({records.Select(r => r.Id).Distinct().Count()} distinct); workloads per vPod: {census}");
            Console.WriteLine($"working set per surviving silo: {Memory(silos)}");
            await DeleteAsync(client, ids);
            return census.ExactlyOne == count && records.Count == count && all <= TimeSpan.FromSeconds(30) ? 0 : 1;
        }
        finally
        {
            foreach (var silo in silos)
            {
                await silo.DisposeAsync();
            }
        }
    }

    /// <summary>When the membership table first says the silo on <paramref name="port"/> is dead, on <paramref name="since"/>'s clock (polled every 50 ms).</summary>
    private static async Task<TimeSpan> DeclaredDeadAsync(string connectionString, int port, Stopwatch since)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT count(*) FROM orleansmembershiptable WHERE port = @port AND status = @dead", connection);
        command.Parameters.AddWithValue("port", port);
        command.Parameters.AddWithValue("dead", (int)SiloStatus.Dead);
        while (since.Elapsed < TimeSpan.FromMinutes(5))
        {
            if (Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture) > 0)
            {
                return since.Elapsed;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"the silo on port {port} was not declared dead within 5 minutes");
    }

    /// <summary>The silo's managed heap after its last collection: <c>dotnet_gc_last_collection_heap_size_bytes</c> summed over generations.</summary>
    private static async Task<double> ManagedHeapAsync(HttpClient http, SiloProcess silo)
    {
        const string Name = "dotnet_gc_last_collection_heap_size_bytes";
        var text = await http.GetStringAsync(new Uri(silo.HttpBase, "/metrics"));
        return text.Split('\n')
            .Where(line => line.StartsWith(Name + "{", StringComparison.Ordinal) || line.StartsWith(Name + " ", StringComparison.Ordinal))
            .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }

    private static string Memory(IEnumerable<SiloProcess> silos) =>
        string.Join(", ", silos.Select(s => FormattableString.Invariant($"{ProcCensus.Sample(s.Pid).RssMiB:F0} MiB")));

    private static Task<MetaNodeClient> ConnectAsync(SiloProcess silo) =>
        MetaNodeClient.ConnectAsync(new MetaNodeClientOptions { Gateways = [silo.Gateway], IdentityHome = Path.Combine(silo.DataDirectory, "none"), ConnectTimeout = TimeSpan.FromSeconds(30) });

    private static async Task<HashSet<string>> CreateAsync(IMetaNodeClient client, int count, DeploymentMethod method, RestartPolicy policy)
    {
        var ids = new System.Collections.Concurrent.ConcurrentBag<string>();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
        {
            var spec = new VPodSpec
            {
                Name = $"scale-{i}",
                DeploymentMethod = method,
                Image = method == DeploymentMethod.Docker ? BusyboxImage : null,
                Command = ["/bin/sh", "-c", "exec sleep 600"],
                RestartPolicy = policy,
                CpuMillis = 100,
                MemoryBytes = 16L << 20,
            };
            ids.Add((await client.DeployVPodAsync(spec, ct)).Id);
        });
        return [.. ids];
    }

    /// <summary>
    /// Waits until every vPod has exactly one live workload under a live silo of <paramref name="silos"/> and the registry and
    /// the vPods themselves say Running; returns the time that took.
    /// </summary>
    private static async Task<TimeSpan> AllRunningAsync(IMetaNodeClient client, HashSet<string> ids, string root, Func<int[]> silos, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        await WaitAsync(
            async () =>
            {
                var census = Count(ids, ProcCensus.Workloads(root, silos()));
                if (census.ExactlyOne != ids.Count || census.Unowned > 0)
                {
                    return false;
                }

                if ((await client.ListVPodsAsync()).Count(s => ids.Contains(s.Id) && s.Phase == VPodPhase.Running) != ids.Count)
                {
                    return false;
                }

                var running = 0;
                await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (id, ct) =>
                {
                    if ((await client.CheckVPodStatusAsync(id, ct)).Phase == VPodPhase.Running)
                    {
                        Interlocked.Increment(ref running);
                    }
                });
                return running == ids.Count;
            },
            timeout,
            $"all {ids.Count} vPods Running with one workload each");
        return watch.Elapsed;
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (await condition().WaitAsync(TimeSpan.FromSeconds(30)))
                {
                    return;
                }
            }
            catch (Exception exception) when (exception is not OutOfMemoryException && watch.Elapsed < timeout)
            {
                // A call routed to a silo that is going away; the next one goes elsewhere.
            }

            if (watch.Elapsed > timeout)
            {
                throw new TimeoutException($"not reached within {timeout}: {what}");
            }

            await Task.Delay(200);
        }
    }

    private static async Task DeleteAsync(IMetaNodeClient client, IEnumerable<string> ids) =>
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (id, ct) =>
        {
            try
            {
                await client.ManageVPodAsync(id, VPodAction.Delete, new StopOptions(Force: true), ct);
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                // Left to the workload sweep at the end.
            }
        });

    private static Census Count(HashSet<string> ids, List<ProcCensus.Workload> workloads)
    {
        var perId = workloads.Where(w => ids.Contains(w.VPodId)).GroupBy(w => w.VPodId).ToDictionary(g => g.Key, g => g.Count());
        return new Census(
            ids.Count(id => perId.GetValueOrDefault(id) == 1),
            ids.Count(id => perId.GetValueOrDefault(id) == 0),
            ids.Count(id => perId.GetValueOrDefault(id) > 1),
            workloads.Count(w => w.Owner == 0));
    }

    private static void Row(string name, ProcCensus.SiloSample sample) =>
        Console.WriteLine(FormattableString.Invariant($"| {name} | {sample.RssMiB:F1} | {sample.Threads} | {sample.Descriptors} | {sample.Sockets} |"));

    /// <summary>How many vPods have exactly one, none, or several live workloads, and how many workloads no live silo owns.</summary>
    private readonly record struct Census(int ExactlyOne, int None, int Duplicated, int Unowned)
    {
        public override string ToString() => $"exactly one: {ExactlyOne}, none: {None}, more than one: {Duplicated}; workloads of no live silo: {Unowned}";
    }
}
