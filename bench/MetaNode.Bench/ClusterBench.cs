using System.Diagnostics;
using System.Globalization;
using MetaNode.Client;
using MetaNode.Clusters;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;

namespace MetaNode.Bench;

/// <summary>
/// Failover and reconciliation of vPod clusters on real silo processes over a throwaway PostgreSQL:
/// <list type="bullet">
/// <item>failover: three silos, a cluster of three orchestrators spread across them; each trial kills (kill -9) the silo
/// whose agent holds the lease and measures the time until a leader on another silo holds a higher term and the cluster
/// has accepted a command under it (the new leader is acting); the killed silo is replaced before the next trial.</item>
/// <item>reconciliation: a cluster of N orchestrator vPods spread across three silos; one silo is killed and the time until
/// all N are Running again is measured.</item>
/// </list>
/// </summary>
internal static class ClusterBench
{
    internal static readonly string[] Settings =
    [
        "--MetaNode:Profile=Cluster",
        "--MetaNode:VPods:ProbeInterval=00:00:01",
        "--MetaNode:VPods:StartupProbeInterval=00:00:00.100",
        "--MetaNode:VPods:RestartBackoffInitial=00:00:00.200",
        "--MetaNode:VPods:RestartBackoffCap=00:00:01",
        "--MetaNode:Orchestration:LeaseTtl=00:00:03",
        "--MetaNode:Orchestration:RenewalPeriod=00:00:00.500",
        "--MetaNode:Orchestration:MaxClockSkew=00:00:00.500",
        "--MetaNode:Membership:ProbeTimeout=00:00:01",
        "--MetaNode:Membership:NumMissedProbesLimit=2",
        "--MetaNode:Membership:NumVotesForDeathDeclaration=1",
        "--MetaNode:Membership:TableRefreshTimeout=00:00:02",
        "--MetaNode:Membership:IAmAliveTablePublishTimeout=00:00:02",
        "--Logging:LogLevel:Default=Warning",
    ];

    public static async Task RunAsync(string[] args)
    {
        var trials = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20;
        var members = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100;
        var root = Path.Combine(Path.GetTempPath(), "metanode-bench-clusters", Guid.NewGuid().ToString("N")[..8]);
        await using var postgres = await Postgres.StartAsync(Path.Combine(root, "pg"));
        var silos = new List<SiloProcess>();
        try
        {
            Console.WriteLine($"failover: {trials} trials, lease TTL 3 s, renewal 0.5 s, death detection: probe 1 s x 2 missed");
            var failovers = await FailoverAsync(postgres, root, silos, trials);
            Report("failover (leader's silo killed -> new leader acting)", failovers);
            await StopAllAsync(silos);

            Console.WriteLine($"reconciliation: {members} vPods on three silos, one silo killed");
            var reconciled = await ReconcileAsync(postgres, root, silos, members);
            Console.WriteLine(FormattableString.Invariant($"| reconciliation of {members} vPods after a silo loss | {reconciled.Lost} vPods on the killed silo | all Running after {reconciled.Time.TotalSeconds:F2} s |"));
        }
        finally
        {
            await StopAllAsync(silos);
            SiloProcess.KillWorkloadsUnder(root);
        }
    }

    private static async Task<List<TimeSpan>> FailoverAsync(Postgres postgres, string root, List<SiloProcess> silos, int trials)
    {
        var connection = await postgres.CreateDatabaseAsync("failover");
        for (var i = 0; i < 3; i++)
        {
            silos.Add(await StartSiloAsync(root, connection, $"f{i}"));
        }

        await using var client = await MetaNodeClient.ConnectAsync(new MetaNodeClientOptions { ConnectionString = connection, ConnectTimeout = TimeSpan.FromSeconds(30), Identity = Path.Combine(root, "tls", "admin") });
        await client.DeployClusterAsync(new ClusterSpec { Name = "failover", Count = 3, MemberType = VPodType.Orchestrator, HighAvailability = true, CpuMillis = 100, MemoryBytes = 16L << 20, Command = ["sh", "-c", "exec sleep 3600"] });
        var results = new List<TimeSpan>();
        for (var trial = 1; trial <= trials; trial++)
        {
            var before = await WaitAsync(client, "failover", s => s.Running == 3 && s.Leader is not null && s.FencingTerm == s.Term && s.LeaderSilo is not null, TimeSpan.FromMinutes(3));
            var victim = silos.Single(s => before.LeaderSilo!.Contains($":{s.SiloPort}:", StringComparison.Ordinal));
            var watch = Stopwatch.StartNew();
            await victim.KillAsync();
            await WaitAsync(client, "failover", s => s.Leader is not null && s.LeaderSilo != before.LeaderSilo && s.Term > before.Term && s.FencingTerm == s.Term, TimeSpan.FromMinutes(2));
            results.Add(watch.Elapsed);
            Console.WriteLine(FormattableString.Invariant($"  trial {trial}: {watch.Elapsed.TotalSeconds:F2} s (term {before.Term} -> new leader)"));
            silos.Remove(victim);
            await victim.DisposeAsync();
            silos.Add(await StartSiloAsync(root, connection, $"f{trial + 2}"));
        }

        await client.DeleteClusterAsync("failover");
        return results;
    }

    private static async Task<(int Lost, TimeSpan Time)> ReconcileAsync(Postgres postgres, string root, List<SiloProcess> silos, int members)
    {
        var connection = await postgres.CreateDatabaseAsync("reconcile");
        for (var i = 0; i < 3; i++)
        {
            silos.Add(await StartSiloAsync(root, connection, $"r{i}", "--MetaNode:Orchestration:LeaseTtl=00:00:05", "--MetaNode:Orchestration:RenewalPeriod=00:00:01"));
        }

        await using var client = await MetaNodeClient.ConnectAsync(new MetaNodeClientOptions { ConnectionString = connection, ConnectTimeout = TimeSpan.FromSeconds(30), Identity = Path.Combine(root, "tls", "admin") });
        await client.DeployClusterAsync(new ClusterSpec { Name = "big", Count = members, MemberType = VPodType.Orchestrator, HighAvailability = true, CpuMillis = 10, MemoryBytes = 8L << 20, Command = ["sh", "-c", "exec sleep 3600"] });
        var before = await WaitAsync(client, "big", s => s.Running == members && s.Leader is not null, TimeSpan.FromMinutes(10));
        var victim = silos.OrderBy(s => s.SiloPort).First(s => s.SiloPort.ToString(CultureInfo.InvariantCulture) != before.LeaderSilo?.Split(':')[1]);
        var lost = before.Members.Count(m => m.Silo?.Contains($":{victim.SiloPort}:", StringComparison.Ordinal) == true);
        var watch = Stopwatch.StartNew();
        await victim.KillAsync();
        await WaitAsync(client, "big", s => s.Running == members && s.Members.All(m => m.Silo?.Contains($":{victim.SiloPort}:", StringComparison.Ordinal) != true), TimeSpan.FromMinutes(10));
        var elapsed = watch.Elapsed;
        await client.DeleteClusterAsync("big");
        return (lost, elapsed);
    }

    private static async Task<ClusterStatus> WaitAsync(IMetaNodeClient client, string name, Func<ClusterStatus, bool> condition, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var status = await client.GetClusterStatusAsync(name).WaitAsync(TimeSpan.FromSeconds(10));
                if (condition(status))
                {
                    return status;
                }
            }
            catch (Exception exception) when (exception is not OutOfMemoryException && watch.Elapsed < timeout)
            {
                // A call routed to the killed silo before membership declared it dead; the next one goes elsewhere.
            }

            if (watch.Elapsed > timeout)
            {
                throw new TimeoutException($"cluster {name} did not reach the awaited state within {timeout}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>The cluster's certificates (made once per bench root, as `metanode-silo tls init` makes them) and the settings naming them.</summary>
    internal static string[] TlsSettings(string root)
    {
        var directory = Path.Combine(root, "tls");
        if (!File.Exists(Path.Combine(directory, "ca.crt")))
        {
            MetaNode.Silo.Hosting.SiloSecurity.Init(directory, "metanode", ["127.0.0.1", "localhost"]);
        }

        return
        [
            $"--MetaNode:Tls:CaCertificate={Path.Combine(directory, "ca.crt")}",
            $"--MetaNode:Tls:CaKey={Path.Combine(directory, "ca.key")}",
            $"--MetaNode:Tls:Certificate={Path.Combine(directory, "silo.crt")}",
            $"--MetaNode:Tls:Key={Path.Combine(directory, "silo.key")}",
        ];
    }

    internal static async Task<SiloProcess> StartSiloAsync(string root, string connection, string name, params string[] extra)
    {
        for (var attempt = 1; ; attempt++)
        {
            var silo = new SiloProcess(Path.Combine(root, name), [.. Settings, .. TlsSettings(root), $"--MetaNode:Database:ConnectionString={connection}", .. extra]);
            try
            {
                await silo.StartAsync(TimeSpan.FromMinutes(2));
                return silo;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                await silo.DisposeAsync();
            }
        }
    }

    private static async Task StopAllAsync(List<SiloProcess> silos)
    {
        foreach (var silo in silos)
        {
            await silo.DisposeAsync();
        }

        silos.Clear();
    }

    private static void Report(string name, List<TimeSpan> results)
    {
        var sorted = results.Select(r => r.TotalSeconds).Order().ToArray();
        var median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        Console.WriteLine("| measurement | trials | median s | max s | min s |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        Console.WriteLine(FormattableString.Invariant($"| {name} | {sorted.Length} | {median:F2} | {sorted[^1]:F2} | {sorted[0]:F2} |"));
    }

    /// <summary>A throwaway PostgreSQL 15 cluster on a free loopback port (run as the postgres user when root).</summary>
    internal sealed class Postgres : IAsyncDisposable
    {
        private const string Bin = "/usr/lib/postgresql/15/bin";
        private readonly string _data;
        private readonly int _port;

        private Postgres(string data, int port)
        {
            _data = data;
            _port = port;
        }

        public static async Task<Postgres> StartAsync(string directory)
        {
            Directory.CreateDirectory(directory);
            var root = Environment.UserName == "root";
            if (root)
            {
                await RunAsync("chown", "-R", "postgres:postgres", directory);
            }

            var data = Path.Combine(directory, "data");
            var port = SiloProcess.FreePort();
            await RunAsPostgresAsync(root, $"{Bin}/initdb -D {data} -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync");
            await RunAsPostgresAsync(root, $"{Bin}/pg_ctl -D {data} -o \"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c max_connections=300 -c fsync=off -c synchronous_commit=off\" -l {directory}/server.log -w start");
            return new Postgres(data, port);
        }

        public async Task<string> CreateDatabaseAsync(string name)
        {
            var admin = $"Host=127.0.0.1;Port={_port};Username=postgres;Database=postgres";
            await using var connection = new Npgsql.NpgsqlConnection(admin);
            await connection.OpenAsync();
            await using var command = new Npgsql.NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
            return $"Host=127.0.0.1;Port={_port};Username=postgres;Database={name}";
        }

        public async ValueTask DisposeAsync()
        {
            Npgsql.NpgsqlConnection.ClearAllPools();
            try
            {
                await RunAsPostgresAsync(Environment.UserName == "root", $"{Bin}/pg_ctl -D {_data} -m immediate -w -t 120 stop");
            }
            catch (InvalidOperationException exception)
            {
                // The figures are already printed; say why the throwaway server may still be shutting down.
                Console.Error.WriteLine($"warning: {exception.Message}");
            }

            try
            {
                Directory.Delete(Path.GetDirectoryName(_data)!, recursive: true);
            }
            catch (IOException)
            {
                // Left for the OS to clean.
            }
        }

        private static Task RunAsPostgresAsync(bool root, string command) =>
            root ? RunAsync("su", "postgres", "-s", "/bin/sh", "-c", command) : RunAsync("/bin/sh", "-c", command);

        private static async Task RunAsync(string program, params string[] arguments)
        {
            var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in arguments)
            {
                info.ArgumentList.Add(argument);
            }

            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed: {await output}{await error}");
            }
        }
    }
}
