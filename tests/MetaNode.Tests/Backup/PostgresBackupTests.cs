using MetaNode.Tests.Infrastructure;
using Npgsql;
using Xunit.Abstractions;

namespace MetaNode.Tests.Backup;

/// <summary>
/// The cluster profile's backup is PostgreSQL's: README.md's pg_dump and pg_restore steps, run as written with Debian's
/// PostgreSQL 15 programs against a database a cluster-profile silo filled, give a database with the same rows that a silo runs on.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresBackupTests(PostgresServer postgres, ITestOutputHelper output) : IAsyncLifetime
{
    private const string PostgresBin = "/usr/lib/postgresql/15/bin";

    private readonly string _root = Path.Combine(Path.GetTempPath(), "metanode-pg-backup", Guid.NewGuid().ToString("N")[..10]);
    private readonly List<SiloProcess> _silos = [];
    private string _restoredName = null!;

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        SiloProcess.KillWorkloadsUnder(_root);
        if (postgres.IsExternal && _restoredName is not null)
        {
            NpgsqlConnection.ClearAllPools();
            await using var connection = new NpgsqlConnection(postgres.AdminConnectionString);
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_restoredName}\" WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by an exiting process: the temporary directory is left for the OS to clean.
        }
    }

    [Fact]
    public async Task TheReadmeSteps_RestoreEveryRow_AndASiloRunsOnTheRestoredDatabase_WhileBackupCreateRefusesAndPointsAtThem()
    {
        var source = await postgres.CreateDatabaseAsync("backup_source");
        var tls = ClusterTls.Create(Path.Combine(_root, "tls"));
        var silo = NewSilo("a", source, tls);
        await silo.StartAsync();
        var cli = new CliRunner("--gateway", silo.Gateway, "--identity", tls.AdminIdentity);

        // Grain state and reminders of every kind a user makes: vPods, a cluster, an identity.
        var ids = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            ids.Add((await cli.JsonAsync("vpod", "create", "--name", $"pg-{i}", "--type", "compute", "--cpu", "100m", "--memory", "16Mi", "--command", "sh -c 'exec sleep 600'"))
                .GetProperty("id").GetString()!);
        }

        await cli.JsonAsync("cluster", "deploy", "--name", "pg-cluster", "--count", "2", "--type", "storage", "--cpu", "100m", "--memory", "16Mi", "--command", "sh -c 'exec sleep 600'");
        var cluster = await Eventually.WaitAsync(() => cli.JsonAsync("cluster", "status", "--name", "pg-cluster"), s => s.GetProperty("phase").GetString() == "Ready", "pg-cluster Ready", TimeSpan.FromSeconds(90));
        ids.AddRange(cluster.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("id").GetString()!));
        Assert.Equal(0, (await cli.RunAsync("access", "grant", "--name", "pg-viewer", "--role", "viewer", "--out", Path.Combine(_root, "pg-viewer"))).ExitCode);

        // backup create is the embedded profile's; here it says what to do instead, and writes nothing.
        var file = Path.Combine(_root, "silo.tar.gz");
        var refused = await cli.RunAsync("backup", "create", "--out", file);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("back it up with pg_dump and restore it with pg_restore as README.md's 'Backups' section shows", refused.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(file));
        Assert.Empty(Directory.EnumerateFiles(_root, "*silo.tar.gz*"));

        var listed = (await cli.JsonAsync("vpod", "list")).EnumerateArray().Select(v => (v.GetProperty("id").GetString()!, v.GetProperty("name").GetString()!)).Order().ToList();
        await silo.StopAsync();

        // README.md's steps, as written.
        var server = new NpgsqlConnectionStringBuilder(source);
        _restoredName = server.Database + "_restored";
        foreach (var step in new[] { "backup:pg-dump", "backup:pg-restore" })
        {
            var script = ReadmeBlock(step);
            output.WriteLine($"{step}:\n{script}");
            var run = await ExternalProgram.RunAsync(
                "env",
                [
                    $"PATH={PostgresBin}:{Environment.GetEnvironmentVariable("PATH")}", $"PGHOST={server.Host}", $"PGPORT={server.Port}", $"PGUSER={server.Username}",
                    $"PGPASSWORD={server.Password}", $"db={server.Database}", $"restored={_restoredName}", "bash", "-euo", "pipefail", "-c", script,
                ],
                _root, "bash and PostgreSQL 15's client programs are needed", TimeSpan.FromMinutes(2));
            Assert.True(run.ExitCode == 0, $"{step} failed: {run.Stdout} {run.Stderr}");
        }

        Assert.True(new FileInfo(Path.Combine(_root, "metanode.dump")).Length > 0);
        var restored = new NpgsqlConnectionStringBuilder(source) { Database = _restoredName }.ConnectionString;
        var tables = await TablesAsync(source);
        Assert.Contains("orleansstorage", tables);
        Assert.Contains("orleansreminderstable", tables);
        Assert.Contains("metanodeaudit", tables);
        Assert.Equal(tables, await TablesAsync(restored));
        foreach (var table in tables)
        {
            var (rows, digest) = await RowsAsync(source, table);
            Assert.Equal((rows, digest), await RowsAsync(restored, table));
            output.WriteLine($"{table}: {rows} rows, md5 {digest}");
        }

        var stored = await KeysAsync(restored);
        Assert.All(ids, id => Assert.Contains(id, stored));
        Assert.Contains("pg-cluster", stored);

        // A silo started on the restored database has every vPod back.
        var again = NewSilo("b", restored, tls);
        await again.StartAsync();
        var restoredList = (await new CliRunner("--gateway", again.Gateway, "--identity", tls.AdminIdentity).JsonAsync("vpod", "list"))
            .EnumerateArray().Select(v => (v.GetProperty("id").GetString()!, v.GetProperty("name").GetString()!)).Order().ToList();
        Assert.Equal(listed, restoredList);
    }

    private SiloProcess NewSilo(string name, string database, ClusterTls tls)
    {
        var silo = new SiloProcess(
            Path.Combine(_root, name),
            [
            "--MetaNode:Profile=Cluster",
            $"--MetaNode:Database:ConnectionString={database}",
            .. tls.Settings,
            "--MetaNode:VPods:ProbeInterval=00:00:00.500",
            ]);
        _silos.Add(silo);
        return silo;
    }

    /// <summary>The shell commands of the README block marked <c>&lt;!-- <paramref name="marker"/> --&gt;</c>.</summary>
    private static string ReadmeBlock(string marker)
    {
        var readme = File.ReadAllText(Path.Combine(AnvilNode.RepositoryRoot, "README.md"));
        var at = readme.IndexOf($"<!-- {marker} -->", StringComparison.Ordinal);
        Assert.True(at >= 0, $"README.md has no block marked {marker}");
        var start = readme.IndexOf("```sh\n", at, StringComparison.Ordinal) + "```sh\n".Length;
        return readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)];
    }

    private static async Task<List<string>> TablesAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var tables = new List<string>();
        while (await reader.ReadAsync())
        {
            tables.Add(reader.GetString(0));
        }

        return tables;
    }

    /// <summary>A table's row count and the MD5 of all its rows as text, in order.</summary>
    private static async Task<(long Rows, string Digest)> RowsAsync(string connectionString, string table)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM \"{table}\" t", connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetString(1));
    }

    private static async Task<HashSet<string>> KeysAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT DISTINCT GrainIdExtensionString FROM OrleansStorage WHERE GrainIdExtensionString IS NOT NULL", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
        {
            keys.Add(reader.GetString(0));
        }

        return keys;
    }
}
