using System.Text.Json.Nodes;

namespace MetaNode.Tests.Monitoring;

/// <summary>
/// deploy/k8s/monitoring/metanode-alerts.rules.yaml checked by Prometheus's promtool: the file is valid, its unit tests pass, they
/// fire and hold back every alert, and a copy of the rules with one expression changed fails them.
/// </summary>
public sealed class AlertRulesTests
{
    public static TheoryData<string> Alerts => [.. RuleFiles.AlertNames];

    private static JsonNode Groups => RuleFiles.ReadYamlFile(RuleFiles.Rules)["groups"]!;

    [Fact]
    public async Task PromtoolCheckRules_AcceptsTheRulesFile()
    {
        var (code, output) = await RuleFiles.PromtoolAsync(RuleFiles.Folder, "check", "rules", RuleFiles.Rules);

        Assert.True(code == 0, $"promtool check rules failed (exit {code}):\n{output}");
        Assert.Contains($"SUCCESS: {RuleFiles.AlertNames.Length} rules found", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PromtoolTestRules_PassesTheUnitTests()
    {
        var (code, output) = await RuleFiles.PromtoolAsync(RuleFiles.Folder, "test", "rules", RuleFiles.UnitTests);

        Assert.True(code == 0, $"promtool test rules failed (exit {code}):\n{output}");
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Rules_DefineEachAlert_WithASeverityAndASummaryAndDescription()
    {
        var alerts = RuleFiles.Alerts(Groups).ToList();

        Assert.Equal(RuleFiles.AlertNames.Order(StringComparer.Ordinal), alerts.Select(a => (string)a["alert"]!).Order(StringComparer.Ordinal));
        foreach (var alert in alerts)
        {
            var name = (string)alert["alert"]!;
            Assert.Contains((string?)alert["labels"]?["severity"], new[] { "warning", "critical" });
            Assert.False(string.IsNullOrWhiteSpace((string?)alert["annotations"]?["summary"]), $"{name} has no summary");
            Assert.False(string.IsNullOrWhiteSpace((string?)alert["annotations"]?["description"]), $"{name} has no description");
        }
    }

    [Fact]
    public void UnitTests_FireEachAlert_AndHoldEachBack()
    {
        var cases = RuleFiles.ReadYamlFile(RuleFiles.UnitTests)["tests"]!.AsArray()
            .SelectMany(t => t!["alert_rule_test"]?.AsArray() ?? [])
            .Select(c => (Alert: (string)c!["alertname"]!, Fires: c["exp_alerts"] is JsonArray { Count: > 0 }))
            .ToList();

        foreach (var name in RuleFiles.AlertNames)
        {
            Assert.True(cases.Contains((name, true)), $"no unit test expects {name} to fire");
            Assert.True(cases.Contains((name, false)), $"no unit test expects {name} to stay quiet");
        }
    }

    /// <summary>An alert whose expression can no longer be true: the unit test expecting it to fire fails.</summary>
    [Theory]
    [MemberData(nameof(Alerts))]
    public async Task UnitTests_Fail_WhenAnAlertNeverFires(string alert)
    {
        var rules = RuleFiles.ReadYamlFile(RuleFiles.Rules);
        var rule = RuleFiles.Alert(rules["groups"]!, alert);
        rule["expr"] = $"({(string)rule["expr"]!}) unless on() vector(1)";

        var (code, output) = await RuleFiles.TestRulesAsync(rules);

        Assert.True(code != 0, $"the unit tests passed with {alert} never firing:\n{output}");
        Assert.Contains($"alertname: {alert}", output, StringComparison.Ordinal);
    }

    /// <summary>An alert whose expression is always true: the unit test expecting it to stay quiet fails.</summary>
    [Theory]
    [MemberData(nameof(Alerts))]
    public async Task UnitTests_Fail_WhenAnAlertAlwaysFires(string alert)
    {
        var rules = RuleFiles.ReadYamlFile(RuleFiles.Rules);
        var rule = RuleFiles.Alert(rules["groups"]!, alert);
        rule["expr"] = $"({(string)rule["expr"]!}) or on() vector(1)";

        var (code, output) = await RuleFiles.TestRulesAsync(rules);

        Assert.True(code != 0, $"the unit tests passed with {alert} always firing:\n{output}");
        Assert.Contains($"alertname: {alert}", output, StringComparison.Ordinal);
    }

    /// <summary>Plausible mistakes in an expression (a silo's own gauge compared instead of the sum, the first increment missed, an off-by-one threshold) fail the unit tests.</summary>
    [Theory]
    [InlineData("MetaNodeClusterBelowDesired", "metanode_cluster_running_members < on (job, instance, cluster) metanode_cluster_desired_members")]
    [InlineData("MetaNodeRoundOverDeadline", "sum by (namespace, job) (increase(metanode_round_deadline_exceeded_total[15m])) > 0")]
    [InlineData("MetaNodeChainWatcherLagging", "max by (namespace, job, instance) (metanode_chain_watcher_lag_blocks) >= 20")]
    [InlineData("MetaNodeVPodFailed", "max by (namespace, job, runtime) (metanode_vpods{phase=\"Failed\"}) > 0")]
    public async Task UnitTests_Fail_ForAWrongExpression(string alert, string wrongExpression)
    {
        var rules = RuleFiles.ReadYamlFile(RuleFiles.Rules);
        RuleFiles.Alert(rules["groups"]!, alert)["expr"] = wrongExpression;

        var (code, output) = await RuleFiles.TestRulesAsync(rules);

        Assert.True(code != 0, $"the unit tests passed with {alert} as '{wrongExpression}':\n{output}");
        Assert.Contains($"alertname: {alert}", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestRulesAsync_PassesOnAnUnchangedCopy()
    {
        // The mutation tests above are only meaningful if the copy they run passes when nothing was changed.
        var (code, output) = await RuleFiles.TestRulesAsync(RuleFiles.ReadYamlFile(RuleFiles.Rules));

        Assert.True(code == 0, $"promtool test rules failed on an unchanged copy (exit {code}):\n{output}");
    }
}
