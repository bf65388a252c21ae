using System.Globalization;
using System.Net;
using System.Text.Json;
using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Observability;

/// <summary>
/// <c>/metrics</c> of a real embedded silo process (TLS and access control on): it answers without an identity, Prometheus's own
/// promtool parses and lints it, and each MetaNode metric moves after the action it measures.
/// </summary>
public sealed class SiloMetricsTests : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-metrics", Guid.NewGuid().ToString("N")[..10]);
    private SiloProcess _silo = null!;

    public async Task InitializeAsync()
    {
        _silo = new SiloProcess(_dataDirectory, "--MetaNode:VPods:ProbeInterval=00:00:00.300", "--MetaNode:VPods:RestartBackoffInitial=00:00:00.200");
        await _silo.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _silo.DisposeAsync();
        SiloProcess.KillWorkloadsUnder(_dataDirectory);
        try
        {
            SiloProcess.DeleteSiloDirectories(_dataDirectory);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task Metrics_AnswerWithoutIdentity_ParseInPromtool_AndMoveWithVPodsClustersAndTheChain()
    {
        var cli = _silo.Cli();
        using var http = new HttpClient();

        // No token, no certificate: /metrics answers (the dashboard next to it does not).
        using (var dashboard = await http.GetAsync(new Uri(_silo.HttpBase, "/dashboard")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, dashboard.StatusCode);
        }

        var first = await ScrapeAsync(http);
        Assert.Equal(0, Value(first, "metanode_vpod_failures_total", ("runtime", "process")) ?? 0);

        // A vPod whose workload exits 3 and is never restarted: Failed.
        var failing = (await cli.JsonAsync("vpod", "create", "--name", "exits", "--type", "compute", "--cpu", "100m", "--memory", "64Mi",
            "--command", "sh -c 'exit 3'", "--restart-policy", "never")).GetProperty("id").GetString()!;
        await Eventually.WaitAsync(() => cli.StatusAsync(failing), s => s.GetProperty("phase").GetString() == "Failed", "the failing vPod Failed");

        // A validator running the reference workload (probed), restarted once.
        var validator = (await cli.JsonAsync("vpod", "create", "--name", "signer", "--type", "validator", "--cpu", "100m", "--memory", "256Mi")).GetProperty("id").GetString()!;
        await Eventually.WaitAsync(() => cli.StatusAsync(validator), s => s.GetProperty("health").GetString() == "Healthy", "the validator healthy");
        await cli.JsonAsync("vpod", "restart", "--id", validator);
        await Eventually.WaitAsync(() => cli.StatusAsync(validator), s => s.GetProperty("restartCount").GetInt32() == 1 && s.GetProperty("health").GetString() == "Healthy", "the validator healthy after its restart");

        // Two orchestrators: a leader is elected.
        await cli.JsonAsync("cluster", "deploy", "--name", "orch", "--type", "orchestrator", "--count", "2", "--cpu", "100m", "--memory", "64Mi");
        await Eventually.WaitAsync(() => cli.JsonAsync("cluster", "status", "--name", "orch"), s => s.GetProperty("leader").ValueKind == JsonValueKind.String && s.GetProperty("running").GetInt32() == 2, "a leader among two running orchestrators");

        // A registry deployed through the silo's account: gas, a confirmation, the account's balance.
        await cli.JsonAsync("chain", "deploy", "--validator", validator, "--threshold", "1");

        var text = await Eventually.WaitAsync(
            () => ScrapeAsync(http),
            t => Value(t, "metanode_cluster_has_leader", ("cluster", "orch")) == 1 && Value(t, "metanode_chain_gas_used_total") > 0 && Value(t, "metanode_chain_account_balance_ether") is not null,
            "a leader, gas used and the account's balance in /metrics");
        Assert.Equal(1, Value(text, "metanode_vpods", ("phase", "Failed"), ("type", "compute"), ("runtime", "process")));
        Assert.Equal(1, Value(text, "metanode_vpods", ("phase", "Running"), ("type", "validator"), ("runtime", "process")));
        Assert.Equal(2, Value(text, "metanode_vpods", ("phase", "Running"), ("type", "orchestrator"), ("runtime", "process")));
        Assert.Equal(1, Value(text, "metanode_vpod_failures_total", ("runtime", "process")));
        Assert.True(Value(text, "metanode_vpod_restarts_total", ("runtime", "process")) >= 1);
        Assert.True(Value(text, "metanode_vpod_probe_duration_seconds_count") > 0);
        Assert.NotNull(Value(text, "metanode_vpod_probe_failures_total"));
        Assert.Equal(2, Value(text, "metanode_cluster_desired_members", ("cluster", "orch")));
        Assert.True(Value(text, "dotnet_gc_last_collection_heap_size_bytes") > 1 << 20, "the managed heap (all generations) in /metrics");
        Assert.Equal(2, Value(text, "metanode_cluster_running_members", ("cluster", "orch")));
        Assert.True(Value(text, "metanode_cluster_leader_term", ("cluster", "orch")) >= 1);
        Assert.True(Value(text, "metanode_cluster_leader_changes_total", ("cluster", "orch")) >= 1);
        Assert.Equal(0, Value(text, "metanode_placement_pending"));
        Assert.Equal(1, Value(text, "metanode_chain_transactions_confirmed_total"));
        Assert.Equal(1, Value(text, "metanode_chain_confirmation_duration_seconds_count"));
        Assert.InRange(Value(text, "metanode_chain_account_balance_ether") ?? -1, 1, 10_001);
        Assert.NotNull(Value(text, "metanode_chain_watcher_lag_blocks"));
        Assert.True(Value(text, "metanode_chain_rpc_duration_seconds_count", ("method", "eth_sendRawTransaction")) >= 1);
        Assert.Contains("# TYPE metanode_vpod_probe_duration_seconds histogram", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE metanode_vpod_restarts_total counter", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE metanode_vpods gauge", text, StringComparison.Ordinal);

        // Orleans' own meters are exported too, but not, by default, those that record on every message.
        Assert.Contains("orleans_catalog_activations", text, StringComparison.Ordinal);
        Assert.Contains("orleans_storage_write_latency", text, StringComparison.Ordinal);
        Assert.DoesNotContain("orleans_app_requests_latency", text, StringComparison.Ordinal);
        Assert.DoesNotContain("orleans_messaging_sent_messages_size", text, StringComparison.Ordinal);

        // promtool parses the whole exposition (exit 3 is a style finding in Orleans' names, 1 a parse failure), and finds nothing
        // to say about MetaNode's metrics.
        var all = await PromtoolAsync(text);
        Assert.True(all.ExitCode is 0 or 3, $"promtool could not parse /metrics (exit {all.ExitCode}):\n{all.Stdout}{all.Stderr}");
        var ours = string.Join('\n', text.Split('\n').Where(l => l.StartsWith("metanode_", StringComparison.Ordinal) || l.StartsWith("# HELP metanode_", StringComparison.Ordinal) || l.StartsWith("# TYPE metanode_", StringComparison.Ordinal))) + "\n";
        var lint = await PromtoolAsync(ours);
        Assert.True(lint.ExitCode == 0, $"promtool check metrics on MetaNode's metrics (exit {lint.ExitCode}):\n{lint.Stdout}{lint.Stderr}");

        // Deleting the failed vPod takes it out of the gauge.
        await cli.JsonAsync("vpod", "delete", "--id", failing);
        await Eventually.WaitAsync(() => ScrapeAsync(http), t => Value(t, "metanode_vpods", ("phase", "Failed"), ("runtime", "process")) is null, "no Failed vPod in /metrics");
    }

    private async Task<string> ScrapeAsync(HttpClient http)
    {
        using var response = await http.GetAsync(new Uri(_silo.HttpBase, "/metrics"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>Debian's promtool (package prometheus) on an exposition, fed on its standard input.</summary>
    private static async Task<(int ExitCode, string Stdout, string Stderr)> PromtoolAsync(string exposition)
    {
        var file = Path.Combine(Path.GetTempPath(), $"metanode-metrics-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(file, exposition);
        try
        {
            return await ExternalProgram.RunAsync("sh", ["-c", "exec promtool check metrics < \"$1\"", "sh", file], Path.GetTempPath(), "sh is needed", TimeSpan.FromSeconds(30));
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>The sum of a metric's samples whose labels include all of <paramref name="labels"/>; null when there is none.</summary>
    internal static double? Value(string exposition, string name, params (string Key, string Value)[] labels)
    {
        double? sum = null;
        foreach (var line in exposition.Split('\n'))
        {
            if (!line.StartsWith(name, StringComparison.Ordinal) || line.Length <= name.Length || (line[name.Length] != '{' && line[name.Length] != ' '))
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            var series = line[..space];
            if (labels.All(l => series.Contains($"{l.Key}=\"{l.Value}\"", StringComparison.Ordinal)))
            {
                sum = (sum ?? 0) + double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return sum;
    }
}
