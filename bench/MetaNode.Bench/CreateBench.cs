using System.Diagnostics;
using System.Globalization;
using MetaNode.Placement;
using MetaNode.VPods;

namespace MetaNode.Bench;

/// <summary>
/// <c>create [N] [CONCURRENT]</c>: on one silo, N process vPods (<c>exec sleep 600</c>, created as the client library creates
/// them, their size in the request context) created one at a time (latency of the
/// create call, which returns once the workload is launched, and until the vPod is seen Running), then N created with CONCURRENT
/// in flight (vPods per second); every vPod is deleted afterwards.
/// </summary>
internal static class CreateBench
{
    public static async Task RunAsync(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100;
        var concurrent = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 16;
        var dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-bench", "create-" + Guid.NewGuid().ToString("N")[..8]);
        await using var cluster = await BenchHost.StartSiloAsync(dataDirectory, new Dictionary<string, string?>
        {
            ["MetaNode:VPods:StartupProbeInterval"] = "00:00:00.010",
        });
        var grains = cluster.Client;
        var run = Guid.NewGuid().ToString("N")[..4];

        static VPodSpec Spec(string name) => new()
        {
            Name = name,
            Command = ["/bin/sh", "-c", "exec sleep 600"],
            CpuMillis = 100,
            MemoryBytes = 16L << 20,
            RestartPolicy = RestartPolicy.Never,
        };

        async Task<(double Call, double Running)> CreateAsync(string id)
        {
            var grain = grains.GetGrain<IVPodGrain>(id);
            var started = Stopwatch.GetTimestamp();
            var status = await CreateAsClientsDoAsync(grains, id, Spec("create-" + id));
            var call = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            while (status.Phase != VPodPhase.Running)
            {
                if (status.Phase is VPodPhase.Failed or VPodPhase.Stopped)
                {
                    throw new InvalidOperationException($"vPod {id} is {status.Phase}: {status.Reason}");
                }

                await Task.Delay(1);
                status = await grain.GetStatusAsync();
            }

            return (call, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        // Warm-up: JIT, the registry's activation, the runtime's first launch.
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add($"vpod-cwarm{i:D2}{run}");
            await CreateAsync(ids[^1]);
        }

        var serial = new List<(double Call, double Running)>(count);
        for (var i = 0; i < count; i++)
        {
            ids.Add($"vpod-cone{i:D4}{run}");
            serial.Add(await CreateAsync(ids[^1]));
        }

        var batch = Enumerable.Range(0, count).Select(i => $"vpod-cmany{i:D4}{run}").ToList();
        ids.AddRange(batch);
        var next = -1;
        var all = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, concurrent)).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < batch.Count)
            {
                await CreateAsClientsDoAsync(grains, batch[i], Spec("create-" + batch[i]));
            }
        }));
        var seconds = all.Elapsed.TotalSeconds;

        var calls = serial.Select(s => s.Call).Order().ToArray();
        var running = serial.Select(s => s.Running).Order().ToArray();
        Console.WriteLine(FormattableString.Invariant($"{count} process vPods on one silo (exec sleep 600, 100m CPU, 16 MiB, restart Never); startup probe every 10 ms"));
        Console.WriteLine("| measure | value | target |");
        Console.WriteLine("|---|---:|---:|");
        Console.WriteLine(FormattableString.Invariant($"| create one at a time: call returns (workload launched), p50 / min / max ms | {P50(calls):F1} / {calls[0]:F1} / {calls[^1]:F1} | p50 ≤ 25 |"));
        Console.WriteLine(FormattableString.Invariant($"| create one at a time: until Running, p50 / min / max ms | {P50(running):F1} / {running[0]:F1} / {running[^1]:F1} | – |"));
        Console.WriteLine(FormattableString.Invariant($"| {count} created with {concurrent} in flight: seconds | {seconds:F2} | ≤ {count / 50.0:F2} |"));
        Console.WriteLine(FormattableString.Invariant($"| {count} created with {concurrent} in flight: vPods per second | {count / seconds:F1} | ≥ 50 |"));

        var deleting = Stopwatch.StartNew();
        next = -1;
        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, concurrent)).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < ids.Count)
            {
                await grains.GetGrain<IVPodGrain>(ids[i]).DeleteAsync(new StopOptions(Force: true));
            }
        }));
        Console.WriteLine(FormattableString.Invariant($"deleted {ids.Count} vPods in {deleting.Elapsed.TotalSeconds:F2} s"));

        await cluster.StopAllSilosAsync();
        BenchHost.DeleteDirectory(dataDirectory);
    }

    private static double P50(double[] sorted) => sorted[sorted.Length / 2];

    /// <summary>Creates the vPod as <c>MetaNodeClient.DeployVPodAsync</c> does: its size goes to placement in the request context.</summary>
    private static async Task<VPodStatus> CreateAsClientsDoAsync(IGrainFactory grains, string id, VPodSpec spec)
    {
        RequestContext.Set(PlacementLedgerKeys.RequestContextKey, PlacementRequest.For(id, spec));
        try
        {
            return await grains.GetGrain<IVPodGrain>(id).CreateAsync(spec);
        }
        finally
        {
            RequestContext.Remove(PlacementLedgerKeys.RequestContextKey);
        }
    }
}
