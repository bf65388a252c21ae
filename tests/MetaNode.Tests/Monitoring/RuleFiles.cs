using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using MetaNode.Tests.Infrastructure;
using MetaNode.Tests.Kubernetes;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace MetaNode.Tests.Monitoring;

/// <summary>deploy/k8s/monitoring's files read as data, and Debian's promtool (package prometheus) run on them.</summary>
internal static class RuleFiles
{
    public static string Folder { get; } = Path.Combine(ManifestRendering.RepositoryRoot, "deploy", "k8s", "monitoring");

    /// <summary>The plain Prometheus rules file.</summary>
    public static string Rules { get; } = Path.Combine(Folder, "metanode-alerts.rules.yaml");

    /// <summary>The promtool unit tests of <see cref="Rules"/> (they name it relative to their own folder).</summary>
    public static string UnitTests { get; } = Path.Combine(Folder, "metanode-alerts.test.yaml");

    /// <summary>The PrometheusRule object carrying the same groups.</summary>
    public static string PrometheusRule { get; } = Path.Combine(Folder, "metanode-prometheusrule.yaml");

    /// <summary>The alerts the rules must define, as the README documents them.</summary>
    public static readonly string[] AlertNames =
    [
        "MetaNodeVPodFailed", "MetaNodeVPodRestartLoop", "MetaNodeClusterBelowDesired", "MetaNodeClusterNoLeader",
        "MetaNodeRoundOverDeadline", "MetaNodeChainFinalizationFailing", "MetaNodeChainBalanceLow", "MetaNodeChainWatcherLagging",
    ];

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Runs <c>promtool arguments…</c> in <paramref name="workingDirectory"/>; returns its exit code and its whole output.</summary>
    public static async Task<(int ExitCode, string Output)> PromtoolAsync(string workingDirectory, params string[] arguments)
    {
        var (code, stdout, stderr) = await ExternalProgram.RunAsync("promtool", arguments, workingDirectory,
            "promtool is required for the alert rule tests (Debian: apt-get install prometheus; .ci/run installs it when missing)", TimeSpan.FromMinutes(2));
        return (code, stdout + stderr);
    }

    /// <summary>A YAML document (one) as JSON: mappings become objects, sequences arrays, every scalar a string.</summary>
    public static JsonNode ReadYaml(string text)
    {
        var value = new DeserializerBuilder().Build().Deserialize<object>(text);
        return ToJson(value) ?? throw new InvalidDataException("the YAML document is empty");
    }

    public static JsonNode ReadYamlFile(string path) => ReadYaml(File.ReadAllText(path));

    /// <summary>Every document of a YAML stream (kubectl kustomize output) as JSON, as <see cref="ReadYaml"/> reads one.</summary>
    public static List<JsonNode> ReadYamlDocuments(string text)
    {
        var deserializer = new DeserializerBuilder().Build();
        var parser = new Parser(new StringReader(text));
        parser.Consume<StreamStart>();
        var documents = new List<JsonNode>();
        while (parser.Accept<DocumentStart>(out _))
        {
            if (ToJson(deserializer.Deserialize<object>(parser)) is { } document)
            {
                documents.Add(document);
            }
        }

        return documents;
    }

    /// <summary>JSON text that Prometheus reads as YAML (a rules file written from <see cref="ReadYaml"/>'s output).</summary>
    public static string ToYamlText(JsonNode node) => node.ToJsonString(Indented);

    /// <summary>The alerting rules of a rules document's groups, in order.</summary>
    public static IEnumerable<JsonObject> Alerts(JsonNode groups) =>
        groups.AsArray().SelectMany(g => g!["rules"]!.AsArray()).Select(r => r!.AsObject()).Where(r => r.ContainsKey("alert"));

    public static JsonObject Alert(JsonNode groups, string name) => Alerts(groups).Single(a => (string?)a["alert"] == name);

    /// <summary>
    /// Copies the unit tests to a new temporary folder beside <paramref name="rules"/> written as <c>metanode-alerts.rules.yaml</c>,
    /// runs <c>promtool test rules</c> there and deletes the folder.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> TestRulesAsync(JsonNode rules)
    {
        var directory = Directory.CreateTempSubdirectory("metanode-alerts-");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory.FullName, Path.GetFileName(Rules)), ToYamlText(rules));
            File.Copy(UnitTests, Path.Combine(directory.FullName, Path.GetFileName(UnitTests)));
            return await PromtoolAsync(directory.FullName, "test", "rules", Path.GetFileName(UnitTests));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static JsonNode? ToJson(object? value) => value switch
    {
        null => null,
        IDictionary<object, object?> map => new JsonObject(map.Select(p => KeyValuePair.Create(Convert.ToString(p.Key, CultureInfo.InvariantCulture)!, ToJson(p.Value)))),
        IList<object?> list => new JsonArray([.. list.Select(ToJson)]),
        _ => JsonValue.Create(Convert.ToString(value, CultureInfo.InvariantCulture)),
    };
}
