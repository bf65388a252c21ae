using System.Text.Json;
using MetaNode.Grains.Hosting;
using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Observability;

/// <summary>What a silo prints: a short start, no framework chatter, and JSON lines whose scopes name the vPod, cluster or job.</summary>
public sealed class SiloLogsTests : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-logs", Guid.NewGuid().ToString("N")[..10]);
    private readonly List<SiloProcess> _silos = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

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
    public async Task SiloStart_PrintsFewerThan40Lines_AndADeployPrintsNoFrameworkChatter()
    {
        var silo = Start(Path.Combine(_dataDirectory, "text"));
        await silo.StartAsync();
        var started = await Eventually.WaitAsync(() => Task.FromResult(silo.Output), o => o.Contains("MetaNode silo ready (Embedded)", StringComparison.Ordinal), "the silo's ready line");
        var lines = started.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length < 40, $"a silo start printed {lines.Length} lines:\n{started}");
        Assert.DoesNotContain("SiloOptionsLogger", started, StringComparison.Ordinal);
        Assert.Contains($"clients connect to 127.0.0.1:{silo.GatewayPort}; dashboard, /ui, /metrics and /healthz on http://127.0.0.1:{silo.HttpPort}", started, StringComparison.Ordinal);

        // A 3-vPod deploy: MetaNode says what it did, the HTTP client's resilience pipeline and Orleans say nothing.
        var cli = silo.Cli();
        await cli.JsonAsync("cluster", "deploy", "--name", "quiet", "--type", "compute", "--count", "3", "--cpu", "100m", "--memory", "256Mi");
        await Eventually.WaitAsync(() => cli.JsonAsync("cluster", "status", "--name", "quiet"), s => s.GetProperty("running").GetInt32() == 3, "3 running members", TimeSpan.FromSeconds(90));
        var output = silo.Output;
        Assert.Contains("vPod vpod-quiet-0 created", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Polly", output, StringComparison.Ordinal);
        Assert.DoesNotContain("info: Orleans", output, StringComparison.Ordinal);
        Assert.DoesNotContain("info: System.Net.Http", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JsonFormat_PrintsOneJsonObjectPerLine_WithTheVPodInItsScope()
    {
        var silo = Start(Path.Combine(_dataDirectory, "json"), "--MetaNode:Logging:Format=json");
        await silo.StartAsync();
        var cli = silo.Cli();
        var id = (await cli.JsonAsync("vpod", "create", "--name", "exits", "--type", "compute", "--cpu", "100m", "--memory", "64Mi",
            "--command", "sh -c 'exit 3'", "--restart-policy", "never")).GetProperty("id").GetString()!;
        await Eventually.WaitAsync(() => cli.StatusAsync(id), s => s.GetProperty("phase").GetString() == "Failed", "the vPod Failed");

        var entries = await Eventually.WaitAsync(
            () => Task.FromResult(Entries(silo.Output)),
            e => e.Any(x => x.GetProperty("Message").GetString()!.Contains("workload ended", StringComparison.Ordinal)),
            "the workload-ended line");
        Assert.All(entries, e => Assert.True(e.TryGetProperty("LogLevel", out _) && e.TryGetProperty("Category", out _) && e.TryGetProperty("Timestamp", out _)));
        var ended = entries.First(e => e.GetProperty("Message").GetString()!.Contains("workload ended", StringComparison.Ordinal));
        Assert.Equal("Warning", ended.GetProperty("LogLevel").GetString());
        Assert.Contains(ended.GetProperty("Scopes").EnumerateArray(), s => s.ValueKind == JsonValueKind.Object && s.TryGetProperty(LogScopes.VPodId, out var v) && v.GetString() == id);
    }

    [Fact]
    public async Task AnUnknownLogFormat_IsRefusedAtStart_WithTheKeyNamed()
    {
        var silo = Start(Path.Combine(_dataDirectory, "bad"), "--MetaNode:Logging:Format=xml");
        var error = await Assert.ThrowsAnyAsync<Exception>(() => silo.StartAsync());
        Assert.Contains("MetaNode:Logging:Format must be 'text' or 'json', got 'xml'", silo.Output + error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("vpod", "vpod-1a2b3c4d", "VPodId", "vpod-1a2b3c4d")]
    [InlineData("federated-compute", "vpod-fl-0", "VPodId", "vpod-fl-0")]
    [InlineData("vpod-cluster", "web", "Cluster", "web")]
    [InlineData("leader-lease", "orch", "Cluster", "orch")]
    [InlineData("federated-job", "job-7", "JobId", "job-7")]
    public void Scopes_NameWhatTheGrainIsAbout(string type, string key, string name, string value)
    {
        var scope = LogScopes.For(GrainId.Create(type, key));
        Assert.True(LogScopes.HasScope(GrainType.Create(type)));
        Assert.NotNull(scope);
        Assert.Equal(new KeyValuePair<string, object?>(name, value), Assert.Single(scope));
    }

    [Fact]
    public void Scopes_OfAValidatorWorker_NameItsJobAndVPod_AndOtherGrainsHaveNone()
    {
        Assert.Equal([new("JobId", "job-7"), new("VPodId", "vpod-v-1")], LogScopes.For(GrainId.Create("federated-validator", "job-7/vpod-v-1")));
        Assert.True(LogScopes.HasScope(GrainType.Create("federated-validator")));
        Assert.Null(LogScopes.For(GrainId.Create("vpod-registry", "default")));
        Assert.Null(LogScopes.For(GrainId.Create("chain", "default")));
        Assert.False(LogScopes.HasScope(GrainType.Create("vpod-registry")));
        Assert.False(LogScopes.HasScope(GrainType.Create("chain")));
    }

    private SiloProcess Start(string directory, params string[] settings)
    {
        var silo = new SiloProcess(directory, settings);
        _silos.Add(silo);
        return silo;
    }

    private static List<JsonElement> Entries(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToList();
}
