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
/// Side by side in alternating rounds: two empty calls (<see cref="MetaNode.Security.IPingGrain"/>) behind the same filter as
/// floors — the stateless worker on the gateway's own silo, and an activation per key over VPODS keys, placed and found through
/// the grain directory as a vPod is (the floor the target is read against: every call to a vPod takes that path); vPod status
/// spread over VPODS vPods as the client library asks for it (its status cache sends each vPod's tag); the vPod grains' own
/// "unchanged" answer to that tag, without the cache (the cheapest answer a vPod grain gives); the whole
/// status on every call (<c>GetStatus</c>); and the client's status calls against a second silo started with
/// <c>MetaNode:Tls:Insecure=true</c> (no TLS, no filter). Prints calls/s, p50, p99, max, errors and the client's and silo's CPU per
/// call for each, and status against both empty calls.
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
            var placedPings = Enumerable.Range(0, vpods).Select(i => secureClient.GrainFactory.GetGrain<MetaNode.Security.IPingGrain>(PingKeys.Placed(i % PingKeys.PlacedKeys))).ToArray();
            Func<int, Task> placed = i => placedPings[i % placedPings.Length].PingAsync();
            Func<int, Task> status = i => secureClient.CheckVPodStatusAsync(secureIds[i % secureIds.Count]);
            var statusGrains = secureIds.Select(id => secureClient.GrainFactory.GetGrain<IVPodGrain>(id)).ToArray();
            var tags = await Task.WhenAll(statusGrains.Select(async g => (await g.GetStatusIfChangedAsync(Guid.Empty))!.Tag));
            Func<int, Task> unchanged = i => statusGrains[i % statusGrains.Length].GetStatusIfChangedAsync(tags[i % tags.Length]);
            Func<int, Task> statusFull = i => statusGrains[i % statusGrains.Length].GetStatusAsync();
            Func<int, Task> statusInsecure = i => insecureClient.CheckVPodStatusAsync(insecureIds[i % insecureIds.Count]);
            // CPU per call, client and silo, beside the throughput: on a shared machine it moves far less than calls/s do.
            int SiloOf(string name) => name.Contains("insecure", StringComparison.Ordinal) ? insecure.Pid : secure.Pid;
            var calls = new (string Name, Func<int, Task> Call, List<Result> Results)[]
            {
                ("empty call, stateless worker on the gateway's silo (TLS + role filter, viewer)", empty, []),
                ($"empty call, placed grain, {vpods} keys (TLS + role filter, viewer)", placed, []),
                ($"vPod status, {vpods} vPods (TLS + role filter, viewer)", status, []),
                ($"the vPod grain answering \"unchanged\" (GetStatusIfChanged, current tag), {vpods} vPods (TLS + role filter, viewer)", unchanged, []),
                ($"vPod status, the whole answer every call (GetStatus), {vpods} vPods (TLS + role filter, viewer)", statusFull, []),
                ($"vPod status, {vpods} vPods (insecure silo: no TLS, no filter)", statusInsecure, []),
            };
            foreach (var (name, call, _) in calls)
            {
                await Measure(call, TimeSpan.FromSeconds(2), callers, SiloOf(name));
            }

            for (var round = 0; round < rounds; round++)
            {
                foreach (var (name, call, results) in calls)
                {
                    results.Add(await Measure(call, TimeSpan.FromSeconds(seconds), callers, SiloOf(name)));
                }
            }

            Console.WriteLine(FormattableString.Invariant($"{callers} concurrent callers in one client process, {rounds} alternating rounds of {seconds} s, over the gateway of a separate silo process"));
            Console.WriteLine("| call | calls/s | p50 ms | p99 ms | max ms | errors | client CPU µs/call | silo CPU µs/call |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var (name, _, results) in calls)
            {
                Console.WriteLine(Result.Merge(results).Row(name));
            }

            var measured = calls[2].Results;
            Console.WriteLine(Ratio("vPod status / empty call to a placed grain (the path every vPod call takes), same gateway and filter", measured, calls[1].Results) + "; target ≥ 90 %, p99 < 50 ms, 0 errors");
            Console.WriteLine(Ratio("vPod status / empty call to the stateless worker (no placement, no directory)", measured, calls[0].Results));
            Console.WriteLine(Ratio("vPod status, the whole answer every call / empty call to a placed grain", calls[4].Results, calls[1].Results));
            Console.WriteLine(Ratio("vPod status / the vPod grain's \"unchanged\" answer (the same grain call without the client's status cache)", measured, calls[3].Results));
            Console.WriteLine(Ratio("TLS + role filter / insecure, vPod status", measured, calls[5].Results));
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

    /// <summary>Throughput of <paramref name="measured"/> against <paramref name="floor"/>, merged and per round, and the same for CPU per call (floor over measured).</summary>
    private static string Ratio(string what, List<Result> measured, List<Result> floor)
    {
        var (m, f) = (Result.Merge(measured), Result.Merge(floor));
        var rounds = string.Join(", ", measured.Zip(floor, (s, e) => (s.Throughput / e.Throughput).ToString("P0", CultureInfo.InvariantCulture)));
        var cpu = string.Join(", ", measured.Zip(floor, (s, e) => (e.CpuPerCall / s.CpuPerCall).ToString("P0", CultureInfo.InvariantCulture)));
        return FormattableString.Invariant($"{what}: {m.Throughput / f.Throughput:P1} (per round: {rounds}); CPU per call {f.CpuPerCall / m.CpuPerCall:P1} (per round: {cpu})");
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
    private static async Task<Result> Measure(Func<int, Task> call, TimeSpan duration, int callers, int siloPid)
    {
        var clientCpu = Process.GetCurrentProcess().TotalProcessorTime;
        var siloCpu = ProcCensus.CpuTime(siloPid);
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
        return new Result([.. latencies.SelectMany(l => l)], watch.Elapsed.TotalSeconds, errors, (Process.GetCurrentProcess().TotalProcessorTime - clientCpu).TotalSeconds, (ProcCensus.CpuTime(siloPid) - siloCpu).TotalSeconds);
    }

    /// <param name="ClientCpu">Seconds of CPU this process used meanwhile.</param>
    /// <param name="SiloCpu">Seconds of CPU the called silo's process used meanwhile.</param>
    private sealed record Result(double[] Latencies, double Seconds, int Errors, double ClientCpu, double SiloCpu)
    {
        public double Throughput => Latencies.Length / Seconds;

        /// <summary>Client and silo CPU per completed call, in microseconds.</summary>
        public double CpuPerCall => (ClientCpu + SiloCpu) * 1e6 / Math.Max(1, Latencies.Length);

        public static Result Merge(IEnumerable<Result> results)
        {
            var list = results.ToList();
            return new Result([.. list.SelectMany(r => r.Latencies)], list.Sum(r => r.Seconds), list.Sum(r => r.Errors), list.Sum(r => r.ClientCpu), list.Sum(r => r.SiloCpu));
        }

        public string Row(string name)
        {
            var sorted = Latencies.Order().ToArray();
            double P(double q) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
            var calls = Math.Max(1, Latencies.Length);
            return FormattableString.Invariant($"| {name} | {Throughput:F0} | {P(0.5):F2} | {P(0.99):F2} | {(sorted.Length == 0 ? 0 : sorted[^1]):F2} | {Errors} | {ClientCpu * 1e6 / calls:F1} | {SiloCpu * 1e6 / calls:F1} |");
        }
    }
}
