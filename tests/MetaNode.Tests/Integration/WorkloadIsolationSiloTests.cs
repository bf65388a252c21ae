using System.Text.Json;
using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Integration;

/// <summary>
/// The embedded silo as a user runs it (as root, as CI does): a process workload cannot read the silo's database, a memory hog
/// dies at its limit and the vPod says so, and a spec the process runtime cannot honour is refused before anything is recorded.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class WorkloadIsolationSiloTests : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-isolation", Guid.NewGuid().ToString("N")[..10]);
    private readonly SiloProcess _silo;

    public WorkloadIsolationSiloTests()
    {
        _silo = new SiloProcess(_dataDirectory, "--MetaNode:Chain:DevChain:Enabled=false", "--MetaNode:VPods:ProbeInterval=00:00:00.500");
    }

    public Task InitializeAsync() => _silo.StartAsync();

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
    public async Task AWorkload_CatOfTheSilosDatabase_IsDenied_AndTheDataDirectoryIsPrivate()
    {
        var database = Path.Combine(_dataDirectory, "metanode.db");
        Assert.True(File.Exists(database));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_dataDirectory));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(database));

        var cli = _silo.Cli();
        var id = (await cli.JsonAsync("vpod", "create", "--name", "curious", "--type", "storage", "--cpu", "250m", "--memory", "64Mi",
            "--command", $"cat {database}", "--restart-policy", "never")).GetProperty("id").GetString()!;
        var status = await Eventually.WaitAsync(() => cli.StatusAsync(id), s => Phase(s) == "Failed", "the cat to end");
        Assert.Equal(1, status.GetProperty("lastExitCode").GetInt32());
        Assert.False(status.TryGetProperty("limitsNotEnforced", out var why) && why.ValueKind == JsonValueKind.String, "limits are enforced on a root silo");
        var logs = await cli.RunAsync("vpod", "logs", "--id", id);
        Assert.Contains($"cat: {database}: Permission denied", logs.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMemoryHog_IsOomKilled_AndTheVPodSaysSo()
    {
        var cli = _silo.Cli();
        var id = (await cli.JsonAsync("vpod", "create", "--name", "hog", "--type", "storage", "--cpu", "500m", "--memory", "64Mi",
            "--command", "tail /dev/zero", "--restart-policy", "never")).GetProperty("id").GetString()!;
        var status = await Eventually.WaitAsync(() => cli.StatusAsync(id), s => Phase(s) == "Failed", "the hog to be killed");
        Assert.True(status.GetProperty("oomKilled").GetBoolean());
        Assert.Equal(137, status.GetProperty("lastExitCode").GetInt32());
        Assert.Contains("out of memory", status.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains("memory limit 64Mi", status.GetProperty("reason").GetString(), StringComparison.Ordinal);
        var text = await cli.RunAsync("vpod", "status", "--id", id);
        Assert.Contains("out of memory", text.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replicas_OnAProcessVPod_AreRefused_AndNothingIsRecorded()
    {
        var cli = _silo.Cli();
        var refused = await cli.RunAsync("vpod", "create", "--name", "three", "--type", "storage", "--cpu", "100m", "--memory", "32Mi", "--deployment-method", "process", "--replicas", "3", "--command", "sleep 60");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("spec.replicas is 3", refused.Stderr, StringComparison.Ordinal);
        var list = await cli.JsonAsync("vpod", "list");
        Assert.DoesNotContain(list.EnumerateArray(), v => v.GetProperty("name").GetString() == "three");
        var again = await cli.JsonAsync("vpod", "create", "--name", "three", "--type", "storage", "--cpu", "100m", "--memory", "32Mi", "--command", "sleep 60");
        Assert.Equal("three", again.GetProperty("name").GetString());
    }

    [Fact]
    public async Task ASiloThatDoesNotIsolate_SaysSoAtStart_AndVPodStatusMarksTheLimitsNotEnforced()
    {
        var directory = Path.Combine(Path.GetTempPath(), "metanode-isolation", Guid.NewGuid().ToString("N")[..10]);
        var silo = new SiloProcess(directory, "--MetaNode:Chain:DevChain:Enabled=false", "--MetaNode:Runtime:Process:Isolation:Mode=Off");
        try
        {
            await silo.StartAsync();
            Assert.Contains("Process vPods are NOT isolated on this silo", silo.Output, StringComparison.Ordinal);
            var cli = silo.Cli();
            var id = (await cli.JsonAsync("vpod", "create", "--name", "plain", "--type", "storage", "--cpu", "100m", "--memory", "32Mi",
                "--command", "sleep 60")).GetProperty("id").GetString()!;
            var status = await cli.StatusAsync(id);
            Assert.Contains("Isolation:Mode=Off", status.GetProperty("limitsNotEnforced").GetString(), StringComparison.Ordinal);
            var text = await cli.RunAsync("vpod", "status", "--id", id);
            Assert.Contains("not enforced", text.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            await silo.DisposeAsync();
            SiloProcess.KillWorkloadsUnder(directory);
            SiloProcess.DeleteSiloDirectories(directory);
        }
    }

    private static string Phase(JsonElement status) => status.GetProperty("phase").GetString()!;
}
