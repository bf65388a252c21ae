using System.Diagnostics;
using System.Globalization;
using MetaNode.Client;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;

namespace MetaNode.Bench;

/// <summary>
/// <c>gateway [SECONDS] [ROUNDS] [CALLERS]</c>: vPod status calls over the gateway from this process to two embedded silo
/// processes of the same build, one with mutual TLS and the role filter (a viewer identity calls), one started with
/// <c>MetaNode:Tls:Insecure=true</c> (neither), in alternating rounds. Prints calls/s, p50 and p99 for each and their ratio.
/// </summary>
internal static class GatewayAccessBench
{
    public static async Task RunAsync(string[] args)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 4;
        var callers = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 64;
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
            var secureId = (await secureAdmin.DeployVPodAsync(Spec())).Id;
            var insecureId = (await insecureClient.DeployVPodAsync(Spec())).Id;

            Func<Task> withAccess = () => secureClient.CheckVPodStatusAsync(secureId);
            Func<Task> without = () => insecureClient.CheckVPodStatusAsync(insecureId);
            await Measure(withAccess, TimeSpan.FromSeconds(2), callers);
            await Measure(without, TimeSpan.FromSeconds(2), callers);
            var a = new List<Result>();
            var b = new List<Result>();
            for (var round = 0; round < rounds; round++)
            {
                a.Add(await Measure(withAccess, TimeSpan.FromSeconds(seconds), callers));
                b.Add(await Measure(without, TimeSpan.FromSeconds(seconds), callers));
            }

            var withAll = Result.Merge(a);
            var withoutAll = Result.Merge(b);
            Console.WriteLine($"{callers} concurrent callers in one client process, {rounds} alternating rounds of {seconds}s, vPod status over the gateway");
            Console.WriteLine("| silo | calls/s | p50 ms | p99 ms | errors |");
            Console.WriteLine("|---|---:|---:|---:|---:|");
            Console.WriteLine(withAll.Row("mutual TLS + role filter (viewer)"));
            Console.WriteLine(withoutAll.Row("insecure (no TLS, no filter)"));
            Console.WriteLine(FormattableString.Invariant($"throughput with/without: {withAll.Throughput / withoutAll.Throughput:P1} (per round: {string.Join(", ", a.Zip(b, (x, y) => (x.Throughput / y.Throughput).ToString("P0", CultureInfo.InvariantCulture)))})"));
            await secureAdmin.ManageVPodAsync(secureId, VPodAction.Delete, new StopOptions(Force: true));
            await insecureClient.ManageVPodAsync(insecureId, VPodAction.Delete, new StopOptions(Force: true));
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

    private static VPodSpec Spec() => new() { Name = "bench-status", Command = ["/bin/sh", "-c", "exec sleep 600"], RestartPolicy = RestartPolicy.Never, CpuMillis = 100, MemoryBytes = 64L << 20 };

    private static Task<MetaNodeClient> Connect(SiloProcess silo, string? identity) =>
        MetaNodeClient.ConnectAsync(new MetaNodeClientOptions { Gateways = [silo.Gateway], Identity = identity, IdentityHome = Path.Combine(silo.DataDirectory, "none"), ConnectTimeout = TimeSpan.FromSeconds(30) });

    private static async Task<string> IssueAsync(MetaNodeClient admin, string name, string directory)
    {
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var issued = await admin.GrantAccessAsync(new MetaNode.Security.GrantRequest { Name = name, Role = MetaNode.Security.AccessRole.Viewer, PublicKey = key.ExportSubjectPublicKeyInfo() });
        MetaNode.Security.IdentityDirectory.Save(directory, issued.CertificatePem, key.ExportPkcs8PrivateKeyPem(), issued.CaCertificatePem, issued.Credential);
        return $"{name} ({issued.Record.Serial})";
    }

    private static async Task<Result> Measure(Func<Task> call, TimeSpan duration, int callers)
    {
        var watch = Stopwatch.StartNew();
        var latencies = new List<double>[callers];
        var errors = 0;
        var workers = Enumerable.Range(0, callers).Select(async i =>
        {
            var mine = latencies[i] = new List<double>(100_000);
            while (watch.Elapsed < duration)
            {
                var start = Stopwatch.GetTimestamp();
                try
                {
                    await call();
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
            return FormattableString.Invariant($"| {name} | {Throughput:F0} | {P(0.5):F2} | {P(0.99):F2} | {Errors} |");
        }
    }
}
