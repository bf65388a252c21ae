using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using MetaNode.Tests.Kubernetes;

namespace MetaNode.Tests.Monitoring;

/// <summary>
/// deploy/k8s/monitoring rendered by kubectl kustomize: the PrometheusRule carries exactly the plain rules file's groups, both
/// monitoring objects pass the Prometheus operator's CRD schemas, and the PodMonitor reaches the silos' /metrics.
/// </summary>
public sealed class MonitoringManifestTests
{
    private static readonly Lazy<string> Rendered = new(() => ManifestRendering.Render("deploy/k8s/monitoring"));

    private static JsonNode Object(string kind) =>
        RuleFiles.ReadYamlDocuments(Rendered.Value).Single(d => (string?)d["kind"] == kind);

    [Fact]
    public void PrometheusRule_CarriesExactlyTheGroupsOfTheRulesFile_AsWrittenAndAsRendered()
    {
        var plain = RuleFiles.ReadYamlFile(RuleFiles.Rules)["groups"]!;
        var written = RuleFiles.ReadYamlFile(RuleFiles.PrometheusRule);
        var rendered = Object("PrometheusRule");

        Assert.Equal(("monitoring.coreos.com/v1", "PrometheusRule"), ((string?)written["apiVersion"], (string?)written["kind"]));
        foreach (var (what, rule) in new[] { ("the file", written), ("kubectl kustomize's output", rendered) })
        {
            var groups = rule["spec"]!["groups"]!;
            Assert.True(JsonNode.DeepEquals(plain, groups),
                $"the PrometheusRule's spec.groups in {what} differ from metanode-alerts.rules.yaml's groups:\n{RuleFiles.ToYamlText(groups)}\n---\n{RuleFiles.ToYamlText(plain)}");
        }

        Assert.Equal(new[] { "apiVersion", "kind", "metadata", "spec" }, written.AsObject().Select(p => p.Key));
        Assert.Equal(new[] { "groups" }, written["spec"]!.AsObject().Select(p => p.Key));
        Assert.Equal(("metanode-alerts", "metanode"), ((string?)rendered["metadata"]!["name"], (string?)rendered["metadata"]!["namespace"]));
    }

    [Fact]
    public void GroupComparison_SeesOneChangedDuration()
    {
        var plain = RuleFiles.ReadYamlFile(RuleFiles.Rules)["groups"]!;
        var changed = RuleFiles.ReadYamlFile(RuleFiles.PrometheusRule)["spec"]!["groups"]!;
        RuleFiles.Alert(changed, "MetaNodeClusterNoLeader")["for"] = "3m";

        Assert.False(JsonNode.DeepEquals(plain, changed));
    }

    [Fact]
    public async Task RenderedPrometheusRule_PassesPromtool()
    {
        var directory = Directory.CreateTempSubdirectory("metanode-rule-");
        try
        {
            var file = Path.Combine(directory.FullName, "rendered.rules.yaml");
            await File.WriteAllTextAsync(file, RuleFiles.ToYamlText(Object("PrometheusRule")["spec"]!.DeepClone()));

            var (code, output) = await RuleFiles.PromtoolAsync(directory.FullName, "check", "rules", file);

            Assert.True(code == 0, $"promtool rejected the PrometheusRule's groups (exit {code}):\n{output}");
            Assert.Contains($"SUCCESS: {RuleFiles.AlertNames.Length} rules found", output, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Render_PassesTheOperatorsSchemas_AndTheValidatorRefusesABadPodMonitor()
    {
        var directory = Directory.CreateTempSubdirectory("metanode-k8s-");
        try
        {
            var good = Path.Combine(directory.FullName, "monitoring.yaml");
            await File.WriteAllTextAsync(good, Rendered.Value);
            var (code, output) = await ManifestRendering.ValidateWithSchemasAsync(good);
            Assert.True(code == 0, $"the Prometheus operator's schemas rejected deploy/k8s/monitoring:\n{output}");
            Assert.Contains("valid monitoring.coreos.com/v1 PrometheusRule/metanode/metanode-alerts", output, StringComparison.Ordinal);
            Assert.Contains("valid monitoring.coreos.com/v1 PodMonitor/metanode/metanode-silo", output, StringComparison.Ordinal);

            var bad = Path.Combine(directory.FullName, "bad.yaml");
            await File.WriteAllTextAsync(bad, "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata:\n  name: bad\nspec:\n  selector: {}\n  podMetricsEndpoints:\n    - port: http\n      interval: thirty\n");
            (code, output) = await ManifestRendering.ValidateWithSchemasAsync(bad);
            Assert.Equal(1, code);
            Assert.Contains("/spec/podMetricsEndpoints/0/interval must match pattern", output, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void PodMonitor_SelectsTheSiloPods_OnTheirHttpPort_WhichTheirPolicyOpensToAMonitoringNamespace()
    {
        var install = KubernetesYaml.LoadAllFromString(ManifestRendering.Render(), strict: true);
        var silo = install.OfType<V1StatefulSet>().Single(s => s.Metadata.Name == "metanode-silo");
        var pod = silo.Spec.Template;
        var monitor = Object("PodMonitor");
        var selector = monitor["spec"]!["selector"]!["matchLabels"]!.AsObject().ToDictionary(p => p.Key, p => (string)p.Value!);
        var endpoint = Assert.Single(monitor["spec"]!["podMetricsEndpoints"]!.AsArray())!;

        Assert.True(LabelSelectorMatcher.Matches(selector, pod.Metadata.Labels), "the PodMonitor does not select the silo pods");
        Assert.False(LabelSelectorMatcher.Matches(selector, install.OfType<V1StatefulSet>().Single(s => s.Metadata.Name == "metanode-postgres").Spec.Template.Metadata.Labels));
        var port = pod.Spec.Containers.Single(c => c.Name == "silo").Ports.Single(p => p.Name == (string?)endpoint["port"]);
        Assert.Equal("/metrics", (string?)endpoint["path"]);
        Assert.Equal("metanode", (string?)monitor["metadata"]!["namespace"]);

        var policy = install.OfType<V1NetworkPolicy>().Single(p => p.Metadata.Name == "metanode-silo");
        var prometheus = new LabelSelectorMatcher.Pod("monitoring", new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = "monitoring" },
            new Dictionary<string, string> { ["app.kubernetes.io/name"] = "prometheus" });
        Assert.True(LabelSelectorMatcher.Admits(policy, "metanode", port.Name, port.ContainerPort, prometheus), "the silo network policy keeps Prometheus from /metrics");
    }

    [Fact]
    public void Install_LeavesTheMonitoringObjectsOut_SoItAppliesWithoutTheOperator()
    {
        var install = ManifestRendering.Render();
        var documents = RuleFiles.ReadYamlDocuments(install);

        Assert.NotEmpty(documents);
        Assert.DoesNotContain(documents, d => ((string?)d["apiVersion"])?.StartsWith("monitoring.coreos.com/", StringComparison.Ordinal) == true);
        Assert.Equal(2, RuleFiles.ReadYamlDocuments(Rendered.Value).Count);
    }
}
