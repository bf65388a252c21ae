using System.Text.Json;
using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Integration;

/// <summary>The cluster profile on a real PostgreSQL: two silo processes, kill -9 of one, every vPod still reachable.</summary>
[Collection("postgres")]
public sealed class ClusterProfileTests(PostgresServer postgres) : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "metanode-cluster", Guid.NewGuid().ToString("N")[..10]);
    private readonly List<SiloProcess> _silos = [];
    private string _connectionString = null!;

    public async Task InitializeAsync() =>
        _connectionString = await postgres.CreateDatabaseAsync("cluster_" + Guid.NewGuid().ToString("N")[..10]);

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

    private ClusterTls Tls => _tls ??= ClusterTls.Create(Path.Combine(_root, "tls"));

    private ClusterTls? _tls;

    private SiloProcess NewSilo(string name)
    {
        var silo = new SiloProcess(
            Path.Combine(_root, name),
            [
            "--MetaNode:Profile=Cluster",
            $"--MetaNode:Database:ConnectionString={_connectionString}",
            .. Tls.Settings,
            "--MetaNode:VPods:ProbeInterval=00:00:00.500",
            "--MetaNode:VPods:RestartBackoffInitial=00:00:00.200",
            "--MetaNode:Membership:ProbeTimeout=00:00:01",
            "--MetaNode:Membership:NumMissedProbesLimit=2",
            "--MetaNode:Membership:NumVotesForDeathDeclaration=1",
            "--MetaNode:Membership:TableRefreshTimeout=00:00:02",
            "--MetaNode:Membership:IAmAliveTablePublishTimeout=00:00:02",
            ]);
        _silos.Add(silo);
        return silo;
    }

    private static string Phase(JsonElement status) => status.GetProperty("phase").GetString()!;

    [Fact]
    public async Task DbMigrateCommand_InstallsTheQueries_AndIsIdempotent()
    {
        for (var run = 0; run < 2; run++)
        {
            var info = new System.Diagnostics.ProcessStartInfo(SiloProcess.DotnetHost)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = AppContext.BaseDirectory,
            };
            foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "metanode-silo.dll"), "db", "migrate", $"--MetaNode:Database:ConnectionString={_connectionString}" })
            {
                info.ArgumentList.Add(argument);
            }

            using var process = System.Diagnostics.Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, $"db migrate run {run + 1} failed: {await stdout} {await stderr}");
            Assert.Contains("database schema is up to date", await stdout, StringComparison.Ordinal);
        }

        await using var connection = new Npgsql.NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT count(*) FROM OrleansQuery WHERE QueryKey IN ('GatewaysQueryKey', 'WriteToStorageKey', 'UpsertReminderRowKey')", connection);
        Assert.Equal(3L, (long)(await command.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task TwoSilos_KillOne_EveryVPodStaysReachableWithItsState()
    {
        var a = NewSilo("a");
        var b = NewSilo("b");
        await a.StartAsync();
        await b.StartAsync();

        // The client finds both gateways through the database.
        var cli = new CliRunner("--connection-string", _connectionString, "--identity", Tls.AdminIdentity);
        var ids = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            var created = await cli.JsonAsync("vpod", "create", "--name", $"member-{i}", "--type", "compute", "--cpu", "250m", "--memory", "32Mi",
                "--command", "sh -c 'exec sleep 600'", "--restart-policy", "on-failure");
            ids.Add(created.GetProperty("id").GetString()!);
        }

        var before = new Dictionary<string, JsonElement>();
        foreach (var id in ids)
        {
            before[id] = await Eventually.WaitAsync(() => cli.StatusAsync(id), s => Phase(s) == "Running", $"{id} Running");
        }

        // Every connection to the cluster's database (the silos' clustering, state, reminders and audit log) is encrypted:
        // the server offers SSL and the silos take it.
        await using (var connection = new Npgsql.NpgsqlConnection(_connectionString))
        {
            await connection.OpenAsync();
            await using var command = new Npgsql.NpgsqlCommand(
                "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()",
                connection);
            await using var reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.True(reader.GetInt64(0) >= 2, $"only {reader.GetInt64(0)} encrypted connections from the silos");
            Assert.Equal(0, reader.GetInt64(1));
        }

        await a.KillAsync();

        var survivor = b.Cli();
        foreach (var id in ids)
        {
            var status = await Eventually.WaitAsync(() => survivor.StatusAsync(id), s => Phase(s) == "Running", $"{id} reachable and Running after silo A was killed", TimeSpan.FromSeconds(90));
            Assert.Equal(before[id].GetProperty("name").GetString(), status.GetProperty("name").GetString());
            Assert.Equal(before[id].GetProperty("createdAt").GetString(), status.GetProperty("createdAt").GetString());
        }

        // Until membership declares silo A dead, a call may still be routed to it; a retry then succeeds.
        var list = await Eventually.WaitAsync(() => survivor.JsonAsync("vpod", "list"), _ => true, "vpod list after silo A was killed", TimeSpan.FromSeconds(60));
        var listed = list.EnumerateArray().Select(v => v.GetProperty("id").GetString()!).ToList();
        Assert.Equal(ids.Order(), listed.Where(ids.Contains).Order());
        Assert.Equal(listed.Count, listed.Distinct().Count());

        foreach (var id in ids)
        {
            Assert.Equal("Deleted", Phase(await survivor.JsonAsync("vpod", "delete", "--id", id, "--force")));
        }
    }
}
