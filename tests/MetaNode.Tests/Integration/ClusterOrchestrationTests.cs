using System.Text.Json;
using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Integration;

/// <summary>
/// vPod clusters through real silo processes and <c>metanode-cli</c>: deploy, leader election, failover, fencing, scale and
/// delete on one embedded silo; on three silos over PostgreSQL, kill -9 of the silo hosting the leader.
/// </summary>
[Collection("postgres")]
public sealed class ClusterOrchestrationTests(PostgresServer postgres) : IAsyncLifetime
{
    private static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan RenewalPeriod = TimeSpan.FromMilliseconds(500);

    private static readonly string[] FastSettings =
    [
        "--MetaNode:VPods:ProbeInterval=00:00:00.500",
        "--MetaNode:VPods:StartupProbeInterval=00:00:00.100",
        "--MetaNode:VPods:RestartBackoffInitial=00:00:00.200",
        "--MetaNode:VPods:RestartBackoffCap=00:00:01",
        $"--MetaNode:Orchestration:LeaseTtl={LeaseTtl}",
        $"--MetaNode:Orchestration:RenewalPeriod={RenewalPeriod}",
        "--MetaNode:Orchestration:MaxClockSkew=00:00:00.500",
    ];

    private static readonly string[] Sleeper = ["--cpu", "100m", "--memory", "16Mi", "--command", "sh -c 'exec sleep 600'"];

    private readonly string _root = Path.Combine(Path.GetTempPath(), "metanode-clusters", Guid.NewGuid().ToString("N")[..10]);
    private readonly List<SiloProcess> _silos = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        SiloProcess.KillWorkloadsUnder(_root);
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by an exiting process: the temporary directory is left for the OS to clean.
        }
    }

    /// <summary>Starts a silo; when another program took one of its free ports before it bound them, tries new ports.</summary>
    private async Task<SiloProcess> StartSiloAsync(string name, params string[] settings)
    {
        for (var attempt = 1; ; attempt++)
        {
            var silo = new SiloProcess(Path.Combine(_root, name), [.. FastSettings, .. settings]);
            _silos.Add(silo);
            try
            {
                await silo.StartAsync();
                return silo;
            }
            catch (InvalidOperationException exception) when (attempt < 3 && exception.Message.Contains("Address already in use", StringComparison.Ordinal))
            {
                _silos.Remove(silo);
                await silo.DisposeAsync();
            }
        }
    }

    private static string? Leader(JsonElement status) => status.GetProperty("leader").GetString();

    private static long Term(JsonElement status) => status.GetProperty("term").GetInt64();

    private static int Running(JsonElement status) => status.GetProperty("running").GetInt32();

    private static List<string> MemberIds(JsonElement status) =>
        status.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("id").GetString()!).ToList();

    [Fact]
    public async Task ClusterCli_DeploysElectsFailsOverFencesScalesAndDeletes_OnARealSilo()
    {
        var silo = await StartSiloAsync("embedded");
        var cli = silo.Cli();
        Task<JsonElement> Status() => cli.JsonAsync("cluster", "status", "--name", "c1");

        var deployed = await cli.JsonAsync(["cluster", "deploy", "--name", "c1", "--count", "3", "--type", "orchestrator", "--restart-policy", "always", .. Sleeper]);
        Assert.Equal(["vpod-c1-0", "vpod-c1-1", "vpod-c1-2"], MemberIds(deployed));

        var first = await Eventually.WaitAsync(Status, s => Running(s) == 3 && Leader(s) is not null && s.GetProperty("fencingTerm").GetInt64() == Term(s), "three running orchestrators and an acting leader");
        Assert.True(Term(first) >= 1);
        var table = await cli.RunAsync("cluster", "status", "--name", "c1");
        Assert.Contains($"{Leader(first)} (term {Term(first)}", table.Stdout, StringComparison.Ordinal);

        // Stop the leader's vPod: another orchestrator leads with a higher term, and the stopped one is started again.
        Assert.Equal(0, (await cli.RunAsync("vpod", "stop", "--id", Leader(first)!, "--force")).ExitCode);
        var second = await Eventually.WaitAsync(Status, s => Leader(s) is { } l && l != Leader(first) && Term(s) > Term(first), "a new leader with a higher term");

        // The stopped leader gave its term up (the failover did not wait for its lease to expire).
        Assert.Contains(second.GetProperty("leaderChanges").EnumerateArray(), c =>
            c.GetProperty("leader").ValueKind == JsonValueKind.Null && c.GetProperty("previousLeader").GetString() == Leader(first) && c.GetProperty("term").GetInt64() == Term(first));
        await Eventually.WaitAsync(Status, s => Running(s) == 3, "the stopped orchestrator running again under the new leader");

        // A command with the old leader's term is rejected and changes nothing.
        var stale = await cli.RunAsync("cluster", "reconcile", "--name", "c1", "--term", Term(first).ToString(System.Globalization.CultureInfo.InvariantCulture), "--leader", Leader(first)!);
        Assert.Equal(1, stale.ExitCode);
        Assert.Contains($"rejected a command from leader term {Term(first)}", stale.Stderr, StringComparison.Ordinal);
        Assert.True((await Status()).GetProperty("fencingTerm").GetInt64() >= Term(second));

        await cli.JsonAsync("cluster", "scale", "--name", "c1", "--count", "5");
        var five = await Eventually.WaitAsync(Status, s => Running(s) == 5, "five running members");
        Assert.Equal(["vpod-c1-0", "vpod-c1-1", "vpod-c1-2", "vpod-c1-3", "vpod-c1-4"], MemberIds(five));
        await cli.JsonAsync("cluster", "scale", "--name", "c1", "--count", "2");
        var two = await Eventually.WaitAsync(Status, s => Running(s) == 2 && MemberIds(s).Count == 2, "two running members");
        Assert.Equal("Ready", two.GetProperty("phase").GetString());

        var list = await cli.JsonAsync("cluster", "list");
        var listed = Assert.Single(list.EnumerateArray(), c => c.GetProperty("name").GetString() == "c1");
        Assert.Equal(("Ready", 2), (listed.GetProperty("phase").GetString(), listed.GetProperty("desired").GetInt32()));
        var deleted = await cli.JsonAsync("cluster", "delete", "--name", "c1");
        Assert.Equal("Deleted", deleted.GetProperty("phase").GetString());
        Assert.DoesNotContain((await cli.JsonAsync("cluster", "list")).EnumerateArray(), c => c.GetProperty("name").GetString() == "c1");
        Assert.DoesNotContain((await cli.JsonAsync("vpod", "list")).EnumerateArray(), v => v.GetProperty("name").GetString()!.StartsWith("c1-", StringComparison.Ordinal));
        var missing = await cli.RunAsync("cluster", "status", "--name", "c1");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("cluster 'c1' does not exist", missing.Stderr, StringComparison.Ordinal);

        var bad = await cli.RunAsync(["cluster", "deploy", "--name", "c2", "--count", "3", "--type", "compute", "--algorithm", "secure-aggregation", "--security-threshold", "5", .. Sleeper]);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("security threshold '5'", bad.Stderr, StringComparison.Ordinal);
        var overQuota = await cli.RunAsync(["cluster", "deploy", "--name", "c3", "--count", "3", "--type", "compute", "--quota-cpu", "200m", .. Sleeper]);
        Assert.Equal(1, overQuota.ExitCode);
        Assert.Contains("exceeds the cpu quota 200m", overQuota.Stderr, StringComparison.Ordinal);
        Assert.Empty((await cli.JsonAsync("cluster", "list")).EnumerateArray());
    }

    [Fact]
    public async Task ThreeSilosOnPostgres_KillTheLeadersSilo_ANewLeaderReconcilesEveryMemberOnce()
    {
        var connectionString = await postgres.CreateDatabaseAsync("clusters_" + Guid.NewGuid().ToString("N")[..8]);
        var tls = ClusterTls.Create(Path.Combine(_root, "tls-" + Guid.NewGuid().ToString("N")[..8]));
        string[] cluster =
        [
            "--MetaNode:Profile=Cluster",
            $"--MetaNode:Database:ConnectionString={connectionString}",
            .. tls.Settings,
            "--MetaNode:Membership:ProbeTimeout=00:00:01",
            "--MetaNode:Membership:NumMissedProbesLimit=2",
            "--MetaNode:Membership:NumVotesForDeathDeclaration=1",
            "--MetaNode:Membership:TableRefreshTimeout=00:00:02",
            "--MetaNode:Membership:IAmAliveTablePublishTimeout=00:00:02",
        ];
        var silos = new[] { await StartSiloAsync("a", cluster), await StartSiloAsync("b", cluster), await StartSiloAsync("c", cluster) };

        var cli = new CliRunner("--connection-string", connectionString, "--identity", tls.AdminIdentity);
        Task<JsonElement> StatusVia(CliRunner runner) => runner.JsonAsync("cluster", "status", "--name", "ha");
        await cli.JsonAsync(["cluster", "deploy", "--name", "ha", "--count", "5", "--type", "orchestrator", "--high-availability", .. Sleeper]);
        var before = await Eventually.WaitAsync(() => StatusVia(cli), s => Running(s) == 5 && Leader(s) is not null && s.GetProperty("fencingTerm").GetInt64() == Term(s), "five running orchestrators and an acting leader", TimeSpan.FromSeconds(60));
        var placedOn = before.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("silo").GetString()!).ToList();
        Assert.Equal(3, placedOn.Distinct().Count());

        var leaderSilo = before.GetProperty("leaderSilo").GetString()!;
        var victim = silos.Single(s => leaderSilo.Contains($":{s.SiloPort}:", StringComparison.Ordinal));
        await victim.KillAsync();

        var survivor = silos.First(s => s != victim).Cli();
        JsonElement after;
        try
        {
            after = await Eventually.WaitAsync(
                () => StatusVia(survivor),
                s => Leader(s) is not null && s.GetProperty("leaderSilo").GetString() != leaderSilo && Term(s) > Term(before) && s.GetProperty("fencingTerm").GetInt64() == Term(s) && Running(s) == 5,
                "a new leader with a higher term and five running members after the leader's silo was killed",
                TimeSpan.FromSeconds(90));
        }
        catch (TimeoutException exception)
        {
            var election = silos.Select(s => $"silo :{s.SiloPort}{(s == victim ? " (killed)" : string.Empty)}\n" + string.Join('\n', s.Output.Split('\n').Where(l => l.Contains("Leader", StringComparison.Ordinal) || l.Contains("Orchestrator", StringComparison.Ordinal) || l.Contains("lease", StringComparison.Ordinal))));
            throw new TimeoutException(exception.Message + "\nElection log lines:\n" + string.Join('\n', election), exception);
        }

        Assert.Equal(MemberIds(before).Order(), MemberIds(after).Order());
        Assert.DoesNotContain(after.GetProperty("members").EnumerateArray(), m => m.GetProperty("silo").GetString() == leaderSilo);
        Assert.Contains(after.GetProperty("leaderChanges").EnumerateArray(), c => c.GetProperty("term").GetInt64() == Term(after));

        var vpods = await Eventually.WaitAsync(() => survivor.JsonAsync("vpod", "list"), _ => true, "vpod list after the kill", TimeSpan.FromSeconds(60));
        var names = vpods.EnumerateArray().Select(v => v.GetProperty("name").GetString()!).Where(n => n.StartsWith("ha-", StringComparison.Ordinal)).ToList();
        Assert.Equal(5, names.Count);
        Assert.Equal(names.Count, names.Distinct().Count());

        Assert.Equal("Deleted", (await survivor.JsonAsync("cluster", "delete", "--name", "ha")).GetProperty("phase").GetString());
    }
}
