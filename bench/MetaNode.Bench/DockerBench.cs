using System.Diagnostics;
using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using MetaNode.Grains.Runtime.Docker;
using MetaNode.VPods;

namespace MetaNode.Bench;

/// <summary>
/// <c>docker [ROUNDS] [CONCURRENT]</c>: on one Docker Engine (<c>METANODE_BENCH_DOCKER_HOST</c>, else <c>DOCKER_HOST</c>), vPod
/// create→Running through the grain vs. raw Docker.DotNet create+start of the same container, in alternating rounds; then
/// CONCURRENT docker vPods created at once (total time to all Running, silo memory).
/// </summary>
internal static class DockerBench
{
    private const string Image = "metanode/busybox:latest";

    public static async Task<int> RunAsync(string[] args)
    {
        var rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
        var concurrent = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 50;
        var endpoint = Environment.GetEnvironmentVariable("METANODE_BENCH_DOCKER_HOST") is { Length: > 0 } b ? b : Environment.GetEnvironmentVariable("DOCKER_HOST");
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            await Console.Error.WriteLineAsync("bench docker: set METANODE_BENCH_DOCKER_HOST (or DOCKER_HOST) to a Docker Engine with metanode/busybox:latest (scripts/build-images.sh).");
            return 2;
        }

        var dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-bench", "docker-" + Guid.NewGuid().ToString("N")[..8]);
        await using var cluster = await BenchHost.StartSiloAsync(dataDirectory, new Dictionary<string, string?>
        {
            ["MetaNode:Runtime:Docker:Endpoint"] = endpoint,
            ["MetaNode:VPods:StartupProbeInterval"] = "00:00:00.010",
            ["MetaNode:VPods:ProbeInterval"] = "00:00:05",
        });
        var grains = cluster.Client;
        using var configuration = new DockerClientConfiguration(new Uri(endpoint));
        using var docker = configuration.CreateClient();

        VPodSpec Spec(string name) => new()
        {
            Name = name,
            DeploymentMethod = DeploymentMethod.Docker,
            Image = Image,
            Command = ["/bin/sh", "-c", "exec sleep 600"],
            CpuMillis = 250,
            MemoryBytes = 32L << 20,
            RestartPolicy = MetaNode.VPods.RestartPolicy.Never,
        };

        async Task<double> RawAsync(int i)
        {
            var id = $"vpod-rawbench{i:D4}";
            var parameters = DockerContainerSpec.Build(id, Spec($"raw-{i}"), new DockerRuntimeOptions(), null);
            parameters.Name = "metanode-bench-raw-" + Guid.NewGuid().ToString("N")[..8];
            var watch = Stopwatch.StartNew();
            var created = await docker.Containers.CreateContainerAsync(parameters);
            await docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
            var elapsed = watch.Elapsed.TotalMilliseconds;
            await docker.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true });
            return elapsed;
        }

        async Task<(double Running, double Started)> GrainAsync(string id, string name)
        {
            var grain = grains.GetGrain<IVPodGrain>(id);
            var watch = Stopwatch.StartNew();
            await grain.CreateAsync(Spec(name));
            var started = watch.Elapsed.TotalMilliseconds;
            while ((await grain.GetStatusAsync()).Phase != VPodPhase.Running)
            {
                await Task.Delay(2);
            }

            return (watch.Elapsed.TotalMilliseconds, started);
        }

        async Task DeleteAsync(string id) => await grains.GetGrain<IVPodGrain>(id).DeleteAsync(new StopOptions(Force: true));

        // Warm-up: one of each (image cache, JIT, first grain activation).
        await RawAsync(9999);
        await GrainAsync("vpod-warm0000", "warm");
        await DeleteAsync("vpod-warm0000");

        var raw = new List<double>();
        var viaGrain = new List<double>();
        var startedOnly = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            raw.Add(await RawAsync(round));
            var id = $"vpod-bench{round:D4}{Guid.NewGuid().ToString("N")[..4]}";
            var (untilRunning, started) = await GrainAsync(id, $"bench-{round}-{Guid.NewGuid().ToString("N")[..4]}");
            viaGrain.Add(untilRunning);
            startedOnly.Add(started);
            await DeleteAsync(id);
        }

        Console.WriteLine(FormattableString.Invariant($"Docker Engine {endpoint}; image {Image}; {rounds} alternating rounds; host network; startup probe every 10 ms"));
        Console.WriteLine("| path | median ms | p90 ms | min ms |");
        Console.WriteLine("|---|---:|---:|---:|");
        Console.WriteLine(Row("raw Docker.DotNet create+start", raw));
        Console.WriteLine(Row("vPod grain create (container started)", startedOnly));
        Console.WriteLine(Row("vPod grain create → Running", viaGrain));
        Console.WriteLine(FormattableString.Invariant($"grain create→Running / raw create+start (medians): {Median(viaGrain) / Median(raw):F2}x; grain create until the container started / raw: {Median(startedOnly) / Median(raw):F2}x (target ≤ 1.05x)"));

        // Many at once: raw first, for reference, then through the grains.
        var rawAll = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(1000, concurrent).Select(RawAsync));
        Console.WriteLine(FormattableString.Invariant($"{concurrent} raw Docker.DotNet create+start (and remove) concurrently: {rawAll.Elapsed.TotalSeconds:F2} s"));

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var before = (Ws: Environment.WorkingSet, Heap: GC.GetTotalMemory(false));
        var ids = Enumerable.Range(0, concurrent).Select(i => $"vpod-many{i:D3}{Guid.NewGuid().ToString("N")[..4]}").ToList();
        var all = Stopwatch.StartNew();
        var times = await Task.WhenAll(ids.Select((id, i) => GrainAsync(id, $"many-{i}-{id[^4..]}")));
        var total = all.Elapsed;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var after = (Ws: Environment.WorkingSet, Heap: GC.GetTotalMemory(false));
        var running = await docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { ["io.metanode.vpod"] = true } },
        });
        Console.WriteLine(FormattableString.Invariant(
            $"{concurrent} docker vPods created concurrently: all Running after {total.TotalSeconds:F2} s (per vPod create→Running median {Median(times.Select(t => t.Running).ToList()):F0} ms, max {times.Max(t => t.Running):F0} ms); {running.Count} containers running"));
        Console.WriteLine(FormattableString.Invariant(
            $"silo process memory: working set {before.Ws / 1048576.0:F1} → {after.Ws / 1048576.0:F1} MiB, managed heap {before.Heap / 1048576.0:F1} → {after.Heap / 1048576.0:F1} MiB ({(after.Heap - before.Heap) / 1024.0 / concurrent:F1} KiB heap per vPod)"));
        var deleting = Stopwatch.StartNew();
        await Task.WhenAll(ids.Select(DeleteAsync));
        Console.WriteLine(FormattableString.Invariant($"deleting them: {deleting.Elapsed.TotalSeconds:F2} s"));

        await cluster.StopAllSilosAsync();
        BenchHost.DeleteDirectory(dataDirectory);

        return 0;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted[sorted.Length / 2];
    }

    private static string Row(string name, List<double> values)
    {
        var sorted = values.Order().ToArray();
        return FormattableString.Invariant($"| {name} | {Median(values):F1} | {sorted[Math.Min(sorted.Length - 1, (int)(0.9 * sorted.Length))]:F1} | {sorted[0]:F1} |");
    }
}
