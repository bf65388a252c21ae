using System.Net;
using System.Text.Json;
using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Integration;

/// <summary>The embedded profile as a user runs it: a real silo process, the CLI, a real reference workload.</summary>
public sealed class EmbeddedSiloTests : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-e2e", Guid.NewGuid().ToString("N")[..10]);
    private SiloProcess _silo = null!;

    public Task InitializeAsync()
    {
        _silo = NewSilo();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _silo.DisposeAsync();

        SiloProcess.KillWorkloadsUnder(_dataDirectory);
        try
        {
            MetaNode.Tests.Infrastructure.SiloProcess.DeleteSiloDirectories(_dataDirectory);
        }
        catch (IOException)
        {
            // A file still held open by an exiting process: the temporary directory is left for the OS to clean.
        }
    }

    private SiloProcess NewSilo() =>
        new(_dataDirectory, "--MetaNode:VPods:ProbeInterval=00:00:00.500", "--MetaNode:VPods:RestartBackoffInitial=00:00:00.200");

    private static string Phase(JsonElement status) => status.GetProperty("phase").GetString()!;

    [Fact]
    public async Task VPodLifecycle_ThroughTheCli_SurvivesASiloKill()
    {
        var startup = await _silo.StartAsync();
        Assert.True(startup < TimeSpan.FromSeconds(20), $"silo took {startup.TotalSeconds:0.0}s to become healthy");
        var cli = _silo.Cli();
        using (var http = new HttpClient())
        {
            // The dashboard needs an identity: a browser token an admin issued, presented once at /login.
            using var refused = await http.GetAsync(new Uri(_silo.HttpBase, "/dashboard"));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            var token = (await cli.JsonAsync("access", "token", "--name", "admin")).GetProperty("token").GetString()!;
            using var dashboard = await http.GetAsync(new Uri(_silo.HttpBase, "/login?token=" + Uri.EscapeDataString(token)));
            Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
            Assert.Contains("html", (await dashboard.Content.ReadAsStringAsync()).ToLowerInvariant(), StringComparison.Ordinal);
        }

        // Restart policy never: losing the silo is not the workload's failure, so it is replaced all the same (below).
        var created = await cli.JsonAsync("vpod", "create", "--name", "e2e-worker", "--type", "compute", "--cpu", "500m", "--memory", "256Mi", "--restart-policy", "never");
        var id = created.GetProperty("id").GetString()!;
        Assert.StartsWith("vpod-", id, StringComparison.Ordinal);

        var running = await Eventually.WaitAsync(() => cli.StatusAsync(id), s => Phase(s) == "Running", "the vPod to be Running");
        Assert.Equal("Healthy", running.GetProperty("health").GetString());
        Assert.Equal("e2e-worker", running.GetProperty("name").GetString());
        Assert.Equal("Compute", running.GetProperty("type").GetString(), StringComparer.OrdinalIgnoreCase);
        Assert.Equal(0, running.GetProperty("restartCount").GetInt32());

        var logs = await Eventually.WaitAsync(() => cli.RunAsync("vpod", "logs", "--id", id, "--lines", "50"), r => r.Stdout.Contains("/healthz", StringComparison.Ordinal), "a /healthz request line in the logs");
        Assert.Equal(0, logs.ExitCode);

        await cli.JsonAsync("vpod", "restart", "--id", id);
        var restarted = await Eventually.WaitAsync(() => cli.StatusAsync(id), s => Phase(s) == "Running", "Running after restart");
        Assert.Equal(1, restarted.GetProperty("restartCount").GetInt32());

        // kill -9 the silo; its workload is left behind as an orphan that nobody supervises.
        var orphanPid = int.Parse(restarted.GetProperty("handle").GetProperty("id").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        await _silo.KillAsync();
        _silo = NewSilo();
        await _silo.StartAsync();
        cli = _silo.Cli();

        var list = await cli.JsonAsync("vpod", "list");
        Assert.Contains(list.EnumerateArray(), v => v.GetProperty("id").GetString() == id);
        var back = await Eventually.WaitAsync(() => cli.StatusAsync(id), s => Phase(s) == "Running" && s.GetProperty("handle").GetProperty("id").GetString() != orphanPid.ToString(System.Globalization.CultureInfo.InvariantCulture), "the vPod running again under a new process after the silo restart");
        Assert.Equal(2, back.GetProperty("restartCount").GetInt32());
        Assert.False(IsAlive(orphanPid), "the orphaned workload was stopped");

        var stopped = await cli.JsonAsync("vpod", "stop", "--id", id, "--timeout", "5");
        Assert.Equal("Stopped", Phase(stopped));
        var deleted = await cli.JsonAsync("vpod", "delete", "--id", id);
        Assert.Equal("Deleted", Phase(deleted));

        var start = await cli.RunAsync("vpod", "start", "--id", id);
        Assert.NotEqual(0, start.ExitCode);
        Assert.Contains("Deleted", start.Stderr, StringComparison.Ordinal);
        Assert.Single(start.Stderr.Trim().Split('\n'));

        var unknown = await cli.RunAsync("vpod", "status", "--id", "vpod-doesnotexist");
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Contains("vpod-doesnotexist", unknown.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Records_SurviveAGracefulSiloRestart_AndRunningVPodsResume()
    {
        await _silo.StartAsync();
        var cli = _silo.Cli();
        var keep = (await cli.JsonAsync("vpod", "create", "--name", "keeper", "--type", "validator", "--cpu", "1", "--memory", "64Mi",
            "--command", "sh -c 'exec sleep 300'", "--restart-policy", "never")).GetProperty("id").GetString()!;
        var idle = (await cli.JsonAsync("vpod", "create", "--name", "idle", "--type", "storage", "--cpu", "1", "--memory", "64Mi",
            "--command", "sh -c 'exec sleep 300'")).GetProperty("id").GetString()!;
        await Eventually.WaitAsync(() => cli.StatusAsync(keep), s => Phase(s) == "Running", "keeper Running");
        await Eventually.WaitAsync(() => cli.StatusAsync(idle), s => Phase(s) == "Running", "idle Running");
        await cli.JsonAsync("vpod", "stop", "--id", idle);

        // The silo stops by itself on SIGTERM (it is not killed when its stop timeout runs out), without waiting for its workloads.
        await _silo.StopAsync(TimeSpan.FromSeconds(120));
        Assert.Equal(0, _silo.ExitCode);
        _silo = NewSilo();
        await _silo.StartAsync();
        cli = _silo.Cli();

        // The never-restart vPod comes back: a graceful silo shutdown is not a workload failure.
        var resumed = await Eventually.WaitAsync(() => cli.StatusAsync(keep), s => Phase(s) == "Running", "keeper Running after the restart");
        Assert.Equal(0, resumed.GetProperty("restartCount").GetInt32());
        var stillStopped = await cli.StatusAsync(idle);
        Assert.Equal("Stopped", Phase(stillStopped));
        Assert.Equal("idle", stillStopped.GetProperty("name").GetString());

        await cli.JsonAsync("vpod", "delete", "--id", keep, "--force");
        await cli.JsonAsync("vpod", "delete", "--id", idle);
    }

    [Fact]
    public async Task InvalidConfiguration_StopsTheSilo_NamingTheKeyAndValue()
    {
        var silo = new SiloProcess(_dataDirectory, "--MetaNode:Profile=Cluster", "--MetaNode:SiloPort=99999");
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => silo.StartAsync());
        Assert.Contains("MetaNode:SiloPort must be 1-65535, got '99999'", error.Message, StringComparison.Ordinal);
        Assert.Contains("MetaNode:Database:ConnectionString", error.Message, StringComparison.Ordinal);
        Assert.Contains("The Cluster profile needs certificates: MetaNode:Tls:CaCertificate", error.Message, StringComparison.Ordinal);
        await silo.DisposeAsync();
    }

    private static bool IsAlive(int pid)
    {
        var stat = $"/proc/{pid}/stat";
        return File.Exists(stat) && !File.ReadAllText(stat).Contains(") Z ", StringComparison.Ordinal);
    }
}
