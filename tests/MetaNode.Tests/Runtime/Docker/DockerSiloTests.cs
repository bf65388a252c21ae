using System.Text.Json;
using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Runtime.Docker;

/// <summary>Docker vPods as a user runs them: real silo processes, the CLI, a real Docker Engine.</summary>
[Collection(DockerCollection.Name)]
public sealed class DockerSiloTests(DockerClusterFixture fixture) : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-e2e", "docker-" + Guid.NewGuid().ToString("N")[..10]);
    private SiloProcess _silo = null!;

    public Task InitializeAsync()
    {
        _silo = NewSilo();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _silo.DisposeAsync();
        try
        {
            MetaNode.Tests.Infrastructure.SiloProcess.DeleteSiloDirectories(_dataDirectory);
        }
        catch (IOException)
        {
            // Left for the OS to clean.
        }
    }

    private SiloProcess NewSilo() =>
        new(_dataDirectory, [.. fixture.Settings.Select(s => $"--{s.Key}={s.Value}")]);

    private static string Phase(JsonElement status) => status.GetProperty("phase").GetString()!;

    private static bool RunningAndHealthy(JsonElement status) => Phase(status) == "Running" && status.GetProperty("health").GetString() == "Healthy";

    [Fact]
    public async Task DockerVPod_ThroughTheCli_IsReadoptedWithoutDuplicates_WhenTheSiloRestarts()
    {
        await _silo.StartAsync();
        var cli = _silo.Cli();
        var name = "e2e-docker-" + Guid.NewGuid().ToString("N")[..6];
        var created = await cli.JsonAsync("vpod", "create", "--name", name, "--type", "compute", "--cpu", "250m", "--memory", "128Mi",
            "--deployment-method", "docker", "--image", DockerEngine.ComputeImage, "--label", "suite=e2e");
        var id = created.GetProperty("id").GetString()!;

        var running = await Eventually.WaitAsync(() => cli.StatusAsync(id), RunningAndHealthy, "the docker vPod to be Running and healthy", TimeSpan.FromSeconds(60));
        var containerId = running.GetProperty("handle").GetProperty("id").GetString()!;
        var container = await fixture.Engine.Client.Containers.InspectContainerAsync(containerId);
        Assert.Equal(250_000_000, container.HostConfig.NanoCPUs);
        Assert.Equal(128L << 20, container.HostConfig.Memory);
        var startedAt = container.State.StartedAt;

        var table = await cli.RunAsync("vpod", "status", "--id", id);
        Assert.Contains(containerId, table.Stdout, StringComparison.Ordinal);
        var logs = await Eventually.WaitAsync(() => cli.RunAsync("vpod", "logs", "--id", id, "--lines", "50"), r => r.Stdout.Contains("GET /healthz 200", StringComparison.Ordinal), "a /healthz request line in the logs");
        Assert.Contains(" stdout ", logs.Stdout, StringComparison.Ordinal);
        var metrics = await cli.JsonAsync("vpod", "metrics", "--id", id);
        Assert.Equal(128L << 20, metrics.GetProperty("resources").GetProperty("memoryLimitBytes").GetInt64());
        Assert.True(metrics.GetProperty("resources").GetProperty("memoryBytes").GetInt64() > 0);

        // kill -9: the container runs on without its silo, and the next silo adopts it.
        await _silo.KillAsync();
        Assert.True((await fixture.Engine.Client.Containers.InspectContainerAsync(containerId)).State.Running);
        _silo = NewSilo();
        await _silo.StartAsync();
        cli = _silo.Cli();
        var adopted = await Eventually.WaitAsync(() => cli.StatusAsync(id), RunningAndHealthy, "the vPod Running and healthy under the new silo", TimeSpan.FromSeconds(60));
        Assert.Equal(containerId, adopted.GetProperty("handle").GetProperty("id").GetString());
        Assert.Equal(0, adopted.GetProperty("restartCount").GetInt32());
        Assert.Single(await fixture.Engine.ContainersOfAsync(id));
        Assert.Equal(startedAt, (await fixture.Engine.Client.Containers.InspectContainerAsync(containerId)).State.StartedAt);

        // A graceful stop leaves it running too.
        await _silo.StopAsync();
        Assert.True((await fixture.Engine.Client.Containers.InspectContainerAsync(containerId)).State.Running);
        _silo = NewSilo();
        await _silo.StartAsync();
        cli = _silo.Cli();
        await Eventually.WaitAsync(() => cli.StatusAsync(id), RunningAndHealthy, "the vPod Running after a graceful silo restart", TimeSpan.FromSeconds(60));
        Assert.Single(await fixture.Engine.ContainersOfAsync(id));
        Assert.Equal(startedAt, (await fixture.Engine.Client.Containers.InspectContainerAsync(containerId)).State.StartedAt);

        await cli.JsonAsync("vpod", "restart", "--id", id);
        var restarted = await Eventually.WaitAsync(() => cli.StatusAsync(id), s => RunningAndHealthy(s) && s.GetProperty("restartCount").GetInt32() == 1, "Running after restart", TimeSpan.FromSeconds(60));
        Assert.Equal(containerId, restarted.GetProperty("handle").GetProperty("id").GetString());
        Assert.NotEqual(startedAt, (await fixture.Engine.Client.Containers.InspectContainerAsync(containerId)).State.StartedAt);

        var deleted = await cli.JsonAsync("vpod", "delete", "--id", id, "--timeout", "5");
        Assert.Equal("Deleted", Phase(deleted));
        Assert.Empty(await fixture.Engine.ContainersOfAsync(id));
    }
}
