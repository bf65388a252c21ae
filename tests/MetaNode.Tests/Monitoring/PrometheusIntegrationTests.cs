using System.Text.Json;
using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Monitoring;

/// <summary>
/// A real Prometheus scraping a real embedded silo (TLS and access control on; /metrics needs no identity) with the repository's
/// rules file: a vPod whose workload fails shows in <c>metanode_vpods</c>, fires MetaNodeVPodFailed, and the alert ends when the
/// vPod is deleted.
/// </summary>
public sealed class PrometheusIntegrationTests : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-prometheus", Guid.NewGuid().ToString("N")[..10]);
    private SiloProcess _silo = null!;
    private PrometheusServer? _prometheus;

    public async Task InitializeAsync()
    {
        _silo = new SiloProcess(_dataDirectory, "--MetaNode:VPods:ProbeInterval=00:00:00.300");
        await _silo.StartAsync();
        _prometheus = await PrometheusServer.StartAsync($"127.0.0.1:{_silo.HttpPort}", [RuleFiles.Rules]);
    }

    public async Task DisposeAsync()
    {
        if (_prometheus is not null)
        {
            await _prometheus.DisposeAsync();
        }

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
    public async Task AFailedVPod_IsScraped_AndFiresMetaNodeVPodFailed_UntilItIsDeleted()
    {
        var prometheus = _prometheus!;
        var cli = _silo.Cli();
        await Eventually.WaitAsync(() => prometheus.QueryAsync($"up{{job=\"{PrometheusServer.Job}\"}}"), r => PrometheusServer.SingleValue(r) == 1,
            "Prometheus scraping the silo's /metrics", TimeSpan.FromSeconds(30));
        Assert.Null(PrometheusServer.SingleValue(await prometheus.QueryAsync("sum(metanode_vpods{phase=\"Failed\"})")));

        // A process vPod whose workload exits 3 and is never restarted ends in Failed.
        var id = (await cli.JsonAsync("vpod", "create", "--name", "exits", "--type", "compute", "--cpu", "100m", "--memory", "64Mi",
            "--command", "sh -c 'exit 3'", "--restart-policy", "never")).GetProperty("id").GetString()!;
        await Eventually.WaitAsync(() => cli.StatusAsync(id), s => s.GetProperty("phase").GetString() == "Failed", "the vPod Failed");

        var series = await Eventually.WaitAsync(() => prometheus.QueryAsync("metanode_vpods{phase=\"Failed\"}"), r => PrometheusServer.SingleValue(r) == 1,
            "metanode_vpods{phase=\"Failed\"} at 1 in Prometheus", TimeSpan.FromSeconds(30));
        var labels = series[0].GetProperty("metric");
        Assert.Equal(("process", PrometheusServer.Job, $"127.0.0.1:{_silo.HttpPort}"),
            (labels.GetProperty("runtime").GetString(), labels.GetProperty("job").GetString(), labels.GetProperty("instance").GetString()));

        // Failed for the rule's 30 s: firing, with the labels and annotations of the rules file.
        var alerts = await Eventually.WaitAsync(prometheus.AlertsAsync, a => Firing(a).Contains("MetaNodeVPodFailed"),
            $"MetaNodeVPodFailed firing in Prometheus", TimeSpan.FromSeconds(120));
        var alert = alerts.EnumerateArray().Single(a => a.GetProperty("labels").GetProperty("alertname").GetString() == "MetaNodeVPodFailed");
        Assert.Equal(("process", "warning", PrometheusServer.Job),
            (alert.GetProperty("labels").GetProperty("runtime").GetString(), alert.GetProperty("labels").GetProperty("severity").GetString(), alert.GetProperty("labels").GetProperty("job").GetString()));
        Assert.Equal("1 MetaNode vPod(s) of the process runtime are Failed", alert.GetProperty("annotations").GetProperty("summary").GetString());
        Assert.Equal(new[] { "MetaNodeVPodFailed" }, Firing(alerts));

        // Every rule of the file was loaded and has been evaluated against the silo's real series without an error.
        var rules = (await prometheus.RuleGroupsAsync()).EnumerateArray().SelectMany(g => g.GetProperty("rules").EnumerateArray()).ToList();
        Assert.Equal(RuleFiles.AlertNames.Order(StringComparer.Ordinal), rules.Select(r => r.GetProperty("name").GetString()!).Order(StringComparer.Ordinal));
        foreach (var rule in rules)
        {
            Assert.True(rule.GetProperty("health").GetString() == "ok",
                $"{rule.GetProperty("name").GetString()}: health {rule.GetProperty("health").GetString()}, {(rule.TryGetProperty("lastError", out var error) ? error.GetString() : "no error")}");
        }

        // Deleting the vPod takes it out of the gauge, and the alert resolves.
        await cli.JsonAsync("vpod", "delete", "--id", id);
        await Eventually.WaitAsync(prometheus.AlertsAsync, a => !Firing(a).Contains("MetaNodeVPodFailed") && a.GetArrayLength() == 0,
            "no MetaNode alert once the vPod is deleted", TimeSpan.FromSeconds(60));
        Assert.Null(PrometheusServer.SingleValue(await prometheus.QueryAsync("sum(metanode_vpods{phase=\"Failed\"})")));
    }

    private static List<string> Firing(JsonElement alerts) =>
        [.. alerts.EnumerateArray()
            .Where(a => a.GetProperty("state").GetString() == "firing")
            .Select(a => a.GetProperty("labels").GetProperty("alertname").GetString()!)
            .Order(StringComparer.Ordinal)];
}
