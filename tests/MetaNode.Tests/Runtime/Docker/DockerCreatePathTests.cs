using Docker.DotNet.Models;
using MetaNode.Grains.Runtime.Docker;
using MetaNode.Grains.VPods;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RestartPolicy = MetaNode.VPods.RestartPolicy;

namespace MetaNode.Tests.Runtime.Docker;

/// <summary>
/// The docker runtime's create path against a real Docker Engine, with every Engine API call it makes noted on the way: the
/// container is created at once under the vPod's name (a leftover one with that name is used, not duplicated), the image is
/// not looked at when the engine has it, and a container just provisioned is started without looking it up again (and made
/// again if it was removed meanwhile).
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class DockerCreatePathTests(DockerClusterFixture fixture) : IAsyncLifetime
{
    private DockerRequestRecorder _recorder = null!;

    public Task InitializeAsync()
    {
        _recorder = new DockerRequestRecorder(fixture.Engine.Endpoint);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _recorder.DisposeAsync();

    private static string NewId() => "vpod-" + Guid.NewGuid().ToString("N")[..10];

    private static VPodSpec Sleeper(string id) => VPodSpecNormalization.Normalize(new VPodSpec
    {
        Name = "cp" + id[5..],
        DeploymentMethod = DeploymentMethod.Docker,
        Image = DockerEngine.BusyboxImage,
        Command = ["/bin/sh", "-c", "exec sleep 600"],
        RestartPolicy = RestartPolicy.Never,
        MemoryBytes = 64L << 20,
        CpuMillis = 500,
    });

    private static DockerRuntime Runtime(string endpoint) =>
        new(Options.Create(new DockerRuntimeOptions { Endpoint = endpoint, PullPolicy = DockerPullPolicy.IfNotPresent }), NullLogger<DockerRuntime>.Instance);

    private async Task<bool> IsRunningAsync(string containerId) =>
        (await fixture.Engine.Client.Containers.InspectContainerAsync(containerId)).State.Running;

    [Fact]
    public async Task ProvisionAndStart_CallTheEngineOnceEach_WhenTheImageIsPresent_AndPullNothing()
    {
        var id = NewId();
        var spec = Sleeper(id);
        using var runtime = Runtime(_recorder.Endpoint);
        try
        {
            var provisioned = await runtime.ProvisionAsync(id, spec);
            var started = await runtime.StartAsync(id, spec, provisioned);

            Assert.Equal(provisioned.Id, started.Id);
            Assert.True(await IsRunningAsync(started.Id), "the container runs");
            Assert.Equal(["POST /containers/create", $"POST /containers/{provisioned.Id}/start"], _recorder.Requests);
        }
        finally
        {
            await runtime.RemoveAsync(id, null);
        }
    }

    [Fact]
    public async Task Provision_UsesALeftoverContainerWithTheVPodsName_InsteadOfMakingAnother()
    {
        var id = NewId();
        var spec = Sleeper(id);

        // A silo that provisioned the vPod and went away: its container is left, created and not started.
        using (var earlier = Runtime(fixture.Engine.Endpoint))
        {
            await earlier.ProvisionAsync(id, spec);
        }

        var leftover = Assert.Single(await fixture.Engine.ContainersOfAsync(id));
        using var runtime = Runtime(_recorder.Endpoint);
        try
        {
            var provisioned = await runtime.ProvisionAsync(id, spec);
            Assert.Equal(leftover.ID, provisioned.Id);
            Assert.Equal(["POST /containers/create", $"GET /containers/metanode-{id}/json"], _recorder.Requests);

            var started = await runtime.StartAsync(id, spec, provisioned);
            Assert.Equal(leftover.ID, started.Id);
            Assert.True(await IsRunningAsync(leftover.ID), "the leftover container runs");
            Assert.Single(await fixture.Engine.ContainersOfAsync(id));
        }
        finally
        {
            await runtime.RemoveAsync(id, null);
        }
    }

    [Fact]
    public async Task Start_MakesTheContainerAgain_WhenItWasRemovedAfterItWasProvisioned()
    {
        var id = NewId();
        var spec = Sleeper(id);
        using var runtime = Runtime(_recorder.Endpoint);
        try
        {
            var provisioned = await runtime.ProvisionAsync(id, spec);
            await fixture.Engine.Client.Containers.RemoveContainerAsync(provisioned.Id, new ContainerRemoveParameters { Force = true });

            var started = await runtime.StartAsync(id, spec, provisioned);

            Assert.NotEqual(provisioned.Id, started.Id);
            Assert.True(await IsRunningAsync(started.Id), "the container made again runs");
            Assert.Equal(started.Id, Assert.Single(await fixture.Engine.ContainersOfAsync(id)).ID);
        }
        finally
        {
            await runtime.RemoveAsync(id, null);
        }
    }
}
