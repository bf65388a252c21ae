using System.Diagnostics;
using System.Globalization;
using MetaNode.Client;
using MetaNode.Security;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;

namespace MetaNode.Bench;

/// <summary>
/// <c>gateway [SECONDS] [ROUNDS] [CALLERS] [VPODS]</c> (defaults 10, 2, 1000, 100): control-plane calls as users make them — from
/// this process, through the gateway of a silo process of the same build with mutual TLS and the role filter on, as a viewer.
/// Side by side in alternating rounds: the empty call (<see cref="MetaNode.Security.IPingGrain"/>, a stateless worker behind the same
/// filter) as the floor; vPod status spread over VPODS vPods as the client library asks for it (its status cache sends each vPod's
/// tag); the vPod grains' own "unchanged" answer to that tag, without the cache (the floor of a call to a keyed grain); the whole
/// status on every call (<c>GetStatus</c>); and the client's status calls against a second silo started with
/// <c>MetaNode:Tls:Insecure=true</c> (no TLS, no filter). Prints calls/s, p50, p99, max and errors for each, and status against the empty call.
/// </summary>
internal static class GatewayAccessBench
{
    public static async Task RunAsync(string[] args)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 10;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2;
        var callers = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1000;
        var vpods = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 100;
        var root = Path.Combine(Path.GetTempPath(), "metanode-bench-gateway", Guid.NewGuid().ToString("N")[..8]);
        string[] common = ["--MetaNode:Chain:DevChain:Enabled=false", "--Logging:LogLevel:Default=Warning"];
        await using var secure = new SiloProcess(Path.Combine(root, "secure"), common);
        await using var insecure = new SiloProcess(Path.Combine(root, "insecure"), [.. common, "--MetaNode:Tls:Insecure=true"]);
        try
        {
            await secure.StartAsync();
            await insecure.StartAsync();
            var viewerDirectory = Path.Combine(root, "viewer");
            await using (var admin = await Connect(secure, secure.AdminIdentity))
            {
                var issued = await IssueAsync(admin, "bench-viewer", viewerDirectory);
                Console.WriteLine($"viewer identity {issued}");
            }

            await using var secureClient = await Connect(secure, viewerDirectory);
            await using var insecureClient = await Connect(insecure, null);
            await using var secureAdmin = await Connect(secure, secure.AdminIdentity);
            var watch = Stopwatch.StartNew();
            var secureIds = await DeployAsync(secureAdmin, vpods);
            var insecureIds = await DeployAsync(insecureClient, vpods);
            Console.WriteLine(FormattableString.Invariant($"{vpods} process vPods deployed on each silo in {watch.Elapsed.TotalSeconds:F1} s"));

            var ping = secureClient.GrainFactory.GetGrain<MetaNode.Security.IPingGrain>(PingKeys.Default);
            Func<int, Task> empty = _ => ping.PingAsync();
            Func<int, Task> status = i => secureClient.CheckVPodStatusAsync(secureIds[i % secureIds.Count]);
            var statusGrains = secureIds.Select(id => secureClient.GrainFactory.GetGrain<IVPodGrain>(id)).ToArray();
            var tags = await Task.WhenAll(statusGrains.Select(async g => (await g.GetStatusIfChangedAsync(Guid.Empty))!.Tag));
            Func<int, Task> unchanged = i => statusGrains[i % statusGrains.Length].GetStatusIfChangedAsync(tags[i % tags.Length]);
            Func<int, Task> statusFull = i => statusGrains[i % statusGrains.Length].GetStatusAsync();
            Func<int, Task> statusInsecure = i => insecureClient.CheckVPodStatusAsync(insecureIds[i % insecureIds.Count]);
            var calls = new (string Name, Func<int, Task> Call, List<Result> Results)[]
            {
                ("empty call (TLS + role filter, viewer)", empty, []),
                ($"vPod status, {vpods} vPods (TLS + role filter, viewer)", status, []),
                ($"the vPod grain answering \"unchanged\" (GetStatusIfChanged, current tag), {vpods} vPods (TLS + role filter, viewer)", unchanged, []),
                ($"vPod status, the whole answer every call (GetStatus), {vpods} vPods (TLS + role filter, viewer)", statusFull, []),
                ($"vPod status, {vpods} vPods (insecure silo: no TLS, no filter)", statusInsecure, []),
            };
            foreach (var (_, call, _) in calls)
            {
                await Measure(call, TimeSpan.FromSeconds(2), callers);
            }

            for (var round = 0; round < rounds; round++)
            {
                foreach (var (_, call, results) in calls)
                {
                    results.Add(await Measure(call, TimeSpan.FromSeconds(seconds), callers));
                }
            }

            Console.WriteLine(FormattableString.Invariant($"{callers} concurrent callers in one client process, {rounds} alternating rounds of {seconds} s, over the gateway of a separate silo process"));
            Console.WriteLine("| call | calls/s | p50 ms | p99 ms | max ms | errors |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|");
            foreach (var (name, _, results) in calls)
            {
                Console.WriteLine(Result.Merge(results).Row(name));
            }

            var floor = calls[0].Results;
            var measured = calls[1].Results;
            Console.WriteLine(FormattableString.Invariant($"vPod status / empty call, same gateway and filter: {Result.Merge(measured).Throughput / Result.Merge(floor).Throughput:P1} (per round: {string.Join(", ", measured.Zip(floor, (s, e) => (s.Throughput / e.Throughput).ToString("P0", CultureInfo.InvariantCulture)))}); target ≥ 90 %, p99 < 50 ms, 0 errors"));
            Console.WriteLine(FormattableString.Invariant($"vPod status, the whole answer every call / empty call: {Result.Merge(calls[3].Results).Throughput / Result.Merge(floor).Throughput:P1}"));
            Console.WriteLine(FormattableString.Invariant($"vPod status / the vPod grain's \"unchanged\" answer (the same grain call without the client's status cache): {Result.Merge(measured).Throughput / Result.Merge(calls[2].Results).Throughput:P1}"));
            Console.WriteLine(FormattableString.Invariant($"TLS + role filter / insecure, vPod status: {Result.Merge(measured).Throughput / Result.Merge(calls[4].Results).Throughput:P1}"));
            await Task.WhenAll(secureIds.Select(id => secureAdmin.ManageVPodAsync(id, VPodAction.Delete, new StopOptions(Force: true))));
            await Task.WhenAll(insecureIds.Select(id => insecureClient.ManageVPodAsync(id, VPodAction.Delete, new StopOptions(Force: true))));
        }
        finally
        {
            await secure.StopAsync();
            await insecure.StopAsync();
            SiloProcess.KillWorkloadsUnder(Path.Combine(root, "secure"));
            SiloProcess.KillWorkloadsUnder(Path.Combine(root, "insecure"));
            BenchHost.DeleteDirectory(root);
        }
    }

    /// <summary>Deploys <paramref name="count"/> sleeping process vPods, 16 at a time.</summary>
    private static async Task<List<string>> DeployAsync(MetaNodeClient client, int count)
    {
        var ids = new string[count];
        using var gate = new SemaphoreSlim(16);
        await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                ids[i] = (await client.DeployVPodAsync(Spec(i))).Id;
            }
            finally
            {
                gate.Release();
            }
        }));
        return [.. ids];
    }

    private static VPodSpec Spec(int i) => new()
    {
        Name = FormattableString.Invariant($"bench-status-{i:D4}"),
        Command = ["/bin/sh", "-c", "exec sleep 600"],
        RestartPolicy = RestartPolicy.Never,
        CpuMillis = 100,
        MemoryBytes = 64L << 20,
    };

    private static Task<MetaNodeClient> Connect(SiloProcess silo, string? identity) =>
        MetaNodeClient.ConnectAsync(new MetaNodeClientOptions { Gateways = [silo.Gateway], Identity = identity, IdentityHome = Path.Combine(silo.DataDirectory, "none"), ConnectTimeout = TimeSpan.FromSeconds(30) });

    private static async Task<string> IssueAsync(MetaNodeClient admin, string name, string directory)
    {
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var issued = await admin.GrantAccessAsync(new GrantRequest { Name = name, Role = AccessRole.Viewer, PublicKey = key.ExportSubjectPublicKeyInfo() });
        IdentityDirectory.Save(directory, issued.CertificatePem, key.ExportPkcs8PrivateKeyPem(), issued.CaCertificatePem, issued.Credential);
        return $"{name} ({issued.Record.Serial})";
    }

    /// <summary><paramref name="callers"/> loops calling for <paramref name="duration"/>; caller i's n-th call gets argument i + n.</summary>
    private static async Task<Result> Measure(Func<int, Task> call, TimeSpan duration, int callers)
    {
        var watch = Stopwatch.StartNew();
        var latencies = new List<double>[callers];
        var errors = 0;
        var workers = Enumerable.Range(0, callers).Select(async i =>
        {
            await Task.Yield();
            var mine = latencies[i] = new List<double>(4_096);
            for (var n = i; watch.Elapsed < duration; n++)
            {
                var start = Stopwatch.GetTimestamp();
                try
                {
                    await call(n);
                    mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        }).ToArray();
        await Task.WhenAll(workers);
        return new Result([.. latencies.SelectMany(l => l)], watch.Elapsed.TotalSeconds, errors);
    }

    private sealed record Result(double[] Latencies, double Seconds, int Errors)
    {
        public double Throughput => Latencies.Length / Seconds;

        public static Result Merge(IEnumerable<Result> results)
        {
            var list = results.ToList();
            return new Result([.. list.SelectMany(r => r.Latencies)], list.Sum(r => r.Seconds), list.Sum(r => r.Errors));
        }

        public string Row(string name)
        {
            var sorted = Latencies.Order().ToArray();
            double P(double q) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
            return FormattableString.Invariant($"| {name} | {Throughput:F0} | {P(0.5):F2} | {P(0.99):F2} | {(sorted.Length == 0 ? 0 : sorted[^1]):F2} | {Errors} |");
        }
    }
}
