using MetaNode.Client;
using MetaNode.Grains.Runtime;
using Microsoft.Extensions.Hosting;

namespace MetaNode.Tests.Cli;

/// <summary>A grain only these tests call, so a silo with nothing else can start and answer.</summary>
[Alias("MetaNode.Tests.Cli.IClientProbeGrain")]
public interface IClientProbeGrain : IGrainWithStringKey
{
    [Alias("Ping")]
    Task<string> PingAsync();
}

public sealed class ClientProbeGrain : Grain, IClientProbeGrain
{
    public Task<string> PingAsync() => Task.FromResult("pong:" + this.GetPrimaryKeyString());
}

/// <summary>Starts one real silo (localhost clustering on free ports) for the connection tests.</summary>
public sealed class LocalSiloFixture : IAsyncLifetime
{
    public const string ClusterId = "metanode-client-tests";
    public const string ServiceId = "metanode";

    private IHost? _host;

    public int GatewayPort { get; private set; }

    public async Task InitializeAsync()
    {
        var ports = LoopbackPorts.Free(2);
        var siloPort = ports[0];
        GatewayPort = ports[1];
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleans(silo => silo.UseLocalhostClustering(siloPort, GatewayPort, serviceId: ServiceId, clusterId: ClusterId));
        _host = builder.Build();
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }
    }
}

public sealed class MetaNodeClientSiloTests(LocalSiloFixture silo) : IClassFixture<LocalSiloFixture>
{
    [Fact]
    public async Task ConnectAsync_JoinsCluster_ThroughStaticGateway()
    {
        var options = new MetaNodeClientOptions
        {
            Gateways = [$"localhost:{silo.GatewayPort}"],
            ClusterId = LocalSiloFixture.ClusterId,
            ServiceId = LocalSiloFixture.ServiceId,
            ConnectTimeout = TimeSpan.FromSeconds(20),
        };

        await using var client = await MetaNodeClient.ConnectAsync(options);

        Assert.Equal("pong:a", await client.GrainFactory.GetGrain<IClientProbeGrain>("a").PingAsync());
        await Assert.ThrowsAsync<ArgumentException>(() => client.CheckVPodStatusAsync("not-a-vpod"));
    }

    [Fact]
    public async Task ConnectAsync_FailsNamingGateway_WhenClusterIdDoesNotMatch()
    {
        var options = new MetaNodeClientOptions
        {
            Gateways = [$"127.0.0.1:{silo.GatewayPort}"],
            ClusterId = "another-cluster",
            ServiceId = LocalSiloFixture.ServiceId,
            ConnectTimeout = TimeSpan.FromSeconds(3),
        };

        var error = await Assert.ThrowsAsync<MetaNodeConnectionException>(() => MetaNodeClient.ConnectAsync(options));

        Assert.Contains($"127.0.0.1:{silo.GatewayPort}", error.Message);
        Assert.Contains("another-cluster", error.Message);
    }
}
