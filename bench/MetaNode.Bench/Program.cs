using System.Diagnostics;
using System.Globalization;
using MetaNode.VPods;
using Microsoft.Extensions.DependencyInjection;

// `scale memory [N] [--docker] | scale restart [N] | scale failover [N]`: many vPods on real silo processes: memory per vPod, restart and failover reconciliation (see ScaleBench).
if (args is ["scale", ..])
{
    return await MetaNode.Bench.ScaleBench.RunAsync(args[1..]);
}

// `chain [N]`: gas per finalization for k = 2, 3, 5 and submit→confirmed latency on anvil (see ChainBench).
if (args is ["chain", .. var chainArgs])
{
    await MetaNode.Bench.ChainBench.RunAsync(chainArgs);
    return 0;
}

// `federated [R] [WARMUP] [ANVIL] [compare|history|burst]`: a federated-average job's round time split by stage, after a warm-up job;
// `compare`, `history` and `burst` run it twice on fresh silos, side by side (see FederatedRoundBench).
if (args is ["federated", ..])
{
    await MetaNode.Bench.FederatedRoundBench.RunAsync(args[1..]);
    return 0;
}

// `secagg [ROUNDS] [N,N…] [CPU-MILLIS]`: secure aggregation against federated averaging: bandwidth per compute vPod and round time (see SecureAggregationBench).
if (args is ["secagg", ..])
{
    await MetaNode.Bench.SecureAggregationBench.RunAsync(args[1..]);
    return 0;
}

// `storage [ROUNDS] [BLOCKS]`: storage put/get throughput against a plain file copy, and re-replication time (see StorageBench).
if (args is ["storage", ..])
{
    await MetaNode.Bench.StorageBench.RunAsync(args[1..]);
    return 0;
}

// `signed-rounds [N,N…] [RECORDS]`: a validator's signed-round log after N rounds, a log object per round against one kept (see SignedRoundLogBench).
if (args is ["signed-rounds", ..])
{
    MetaNode.Bench.SignedRoundLogBench.Run(args[1..]);
    return 0;
}

// `signatures [N] [ROUNDS]`: secp256k1 sign and recover, Nethereum against the project's path (see SignatureBench).
if (args is ["signatures", ..])
{
    MetaNode.Bench.SignatureBench.Run(args[1..]);
    return 0;
}

// `docker [ROUNDS] [CONCURRENT]`: the docker runtime's benchmark (see DockerBench).
if (args is ["docker", ..])
{
    return await MetaNode.Bench.DockerBench.RunAsync(args[1..]);
}

// `create [N] [CONCURRENT]`: process vPod create latency one at a time and creates per second with CONCURRENT in flight (see CreateBench).
if (args is ["create", ..])
{
    await MetaNode.Bench.CreateBench.RunAsync(args[1..]);
    return 0;
}

// `federation [RUNS]`: local training per digits partition and validator aggregation (see FederationBenchmark).
if (args is ["federation", ..])
{
    await MetaNode.Bench.FederationBenchmark.RunAsync(args[1..]);
    return 0;
}

// `clusters [TRIALS] [MEMBERS]`: cluster failover and reconciliation on real silo processes (see ClusterBench).
if (args is ["clusters", ..])
{
    await MetaNode.Bench.ClusterBench.RunAsync(args[1..]);
    return 0;
}

// `isolation [STARTS] [ROUNDS]`: a process vPod's start-to-exit time with and without its own uid and cgroup (see IsolationBench).
if (args is ["isolation", ..])
{
    await MetaNode.Bench.IsolationBench.RunAsync(args[1..]);
    return 0;
}

// `quality [ROUNDS] [SEEDS] [--dataset D] [--partition P]`: final accuracy per seed and server optimizer, computed in process (see QualityBench).
if (args is ["quality", ..])
{
    MetaNode.Bench.QualityBench.Run(args[1..]);
    return 0;
}

// `telemetry [SECONDS] [ROUNDS] [JOB-ROUNDS] [JOBS]`: status calls and round overhead with metrics and tracing off and on (see TelemetryBench).
if (args is ["telemetry", ..])
{
    await MetaNode.Bench.TelemetryBench.RunAsync(args[1..]);
    return 0;
}

// `gateway [SECONDS] [ROUNDS] [CALLERS] [VPODS]`: status calls over the gateway against the empty call behind the same TLS and role filter, and against an insecure silo (see GatewayAccessBench).
if (args is ["gateway", ..])
{
    await MetaNode.Bench.GatewayAccessBench.RunAsync(args[1..]);
    return 0;
}

// Raw Orleans calls on an empty grain vs. vPod status calls, side by side on one silo, in alternating rounds.
var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 3;
var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
var concurrency = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 16;

var dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-bench", Guid.NewGuid().ToString("N")[..8]);
await using var cluster = await MetaNode.Bench.BenchHost.StartSiloAsync(dataDirectory, new Dictionary<string, string?>());
var client = cluster.Client;

var vpod = client.GetGrain<IVPodGrain>("vpod-bench0001");
await vpod.CreateAsync(new VPodSpec { Name = "bench", Command = ["/bin/sh", "-c", "exec sleep 600"], RestartPolicy = RestartPolicy.Never });
var ping = client.GetGrain<MetaNode.Bench.IPingGrain>(0);

// What a status call carries compared with the empty call: payload size and the cost to serialize it once.
var serializer = cluster.Client.ServiceProvider.GetRequiredService<Orleans.Serialization.Serializer>();
var sample = await vpod.GetStatusAsync();
var statusBytes = serializer.SerializeToArray(sample).Length;
for (var i = 0; i < 20_000; i++)
{
    serializer.SerializeToArray(sample);
}

var sw = Stopwatch.StartNew();
for (var i = 0; i < 100_000; i++)
{
    serializer.SerializeToArray(sample);
}

Console.WriteLine(FormattableString.Invariant($"vPod status payload: {statusBytes} bytes (empty call: {serializer.SerializeToArray(0).Length}); serialize: {sw.Elapsed.TotalMilliseconds * 1000 / 100_000:F2} µs each"));

Func<Task> raw = () => ping.PingAsync();
Func<Task> status = () => vpod.GetStatusAsync();
await RunAsync(raw, TimeSpan.FromSeconds(1));
await RunAsync(status, TimeSpan.FromSeconds(1));

var rawResults = new List<Result>();
var statusResults = new List<Result>();
for (var round = 0; round < rounds; round++)
{
    rawResults.Add(await RunAsync(raw, TimeSpan.FromSeconds(seconds)));
    statusResults.Add(await RunAsync(status, TimeSpan.FromSeconds(seconds)));
}

var rawAll = Result.Merge(rawResults);
var statusAll = Result.Merge(statusResults);
Console.WriteLine($"{concurrency} concurrent callers, {rounds} alternating rounds of {seconds}s each");
Console.WriteLine("| call | calls/s | p50 ms | p99 ms |");
Console.WriteLine("|---|---:|---:|---:|");
Console.WriteLine(rawAll.Row("raw grain call (empty grain)"));
Console.WriteLine(statusAll.Row("vPod status"));
Console.WriteLine(FormattableString.Invariant($"status/raw throughput ratio: {statusAll.Throughput / rawAll.Throughput:P1} (per round: {string.Join(", ", rawResults.Zip(statusResults, (r, s) => (s.Throughput / r.Throughput).ToString("P0", CultureInfo.InvariantCulture)))})"));

await vpod.DeleteAsync(new StopOptions(Force: true));
await cluster.StopAllSilosAsync();
MetaNode.Bench.BenchHost.DeleteDirectory(dataDirectory);

return 0;

async Task<Result> RunAsync(Func<Task> call, TimeSpan duration)
{
    var watch = Stopwatch.StartNew();
    var latencies = new List<double>[concurrency];
    var workers = Enumerable.Range(0, concurrency).Select(async i =>
    {
        var mine = latencies[i] = new List<double>(100_000);
        while (watch.Elapsed < duration)
        {
            var start = Stopwatch.GetTimestamp();
            await call();
            mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
    }).ToArray();
    await Task.WhenAll(workers);
    var elapsed = watch.Elapsed.TotalSeconds;
    return new Result(latencies.SelectMany(l => l).ToArray(), elapsed);
}

internal sealed record Result(double[] Latencies, double Seconds)
{
    public double Throughput => Latencies.Length / Seconds;

    public static Result Merge(IEnumerable<Result> results)
    {
        var list = results.ToList();
        return new Result(list.SelectMany(r => r.Latencies).ToArray(), list.Sum(r => r.Seconds));
    }

    public string Row(string name)
    {
        var sorted = Latencies.Order().ToArray();
        double P(double q) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        return FormattableString.Invariant($"| {name} | {Throughput:N0} | {P(0.50):F3} | {P(0.99):F3} |");
    }
}
