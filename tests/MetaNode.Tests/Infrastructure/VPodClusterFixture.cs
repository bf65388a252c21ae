using Orleans.TestingHost;

namespace MetaNode.Tests.Infrastructure;

/// <summary>
/// One in-process silo with the embedded profile's real parts: SQLite grain storage and reminders in a temporary
/// directory, the process runtime running real workloads. Probes and backoff are shortened so tests converge fast.
/// </summary>
public sealed class VPodClusterFixture : IAsyncLifetime
{
    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), "metanode-tests", Guid.NewGuid().ToString("N")[..12]);

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    public async Task InitializeAsync() =>
        Cluster = await new TestSiloBuilder().WithSettings(TestSiloBuilder.FastVPods).WithMetaNode(DataDirectory).StartAsync();

    public Task DisposeAsync() => TestSiloBuilder.StopAsync(Cluster, DataDirectory);
}

[CollectionDefinition(Name)]
public sealed class VPodClusterCollection : ICollectionFixture<VPodClusterFixture>
{
    public const string Name = "vpod-cluster";
}
