using Orleans.TestingHost;

namespace MetaNode.Tests.Infrastructure;

/// <summary>
/// One in-process silo like <see cref="VPodClusterFixture"/>, with a short leader lease (1.5 s, renewed every 250 ms) so
/// elections and failovers happen within a test, and a declared capacity of 4 cores and 4Gi so placement limits are reachable.
/// </summary>
public sealed class ClusterGrainFixture : IAsyncLifetime
{
    public static readonly TimeSpan LeaseTtl = TimeSpan.FromMilliseconds(1500);
    public static readonly TimeSpan RenewalPeriod = TimeSpan.FromMilliseconds(250);

    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), "metanode-tests", "clusters-" + Guid.NewGuid().ToString("N")[..12]);

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    public async Task InitializeAsync() => Cluster = await new TestSiloBuilder()
        .WithSettings(TestSiloBuilder.FastVPods)
        .WithSettings(new Dictionary<string, string?>
        {
            ["MetaNode:Orchestration:LeaseTtl"] = LeaseTtl.ToString(),
            ["MetaNode:Orchestration:RenewalPeriod"] = RenewalPeriod.ToString(),
            ["MetaNode:Orchestration:MaxClockSkew"] = "00:00:00.250",
            ["MetaNode:Capacity:Cpu"] = "4",
            ["MetaNode:Capacity:Memory"] = "4Gi",
        })
        .WithClientStreams()
        .WithMetaNode(DataDirectory)
        .StartAsync();

    public Task DisposeAsync() => TestSiloBuilder.StopAsync(Cluster, DataDirectory);
}

[CollectionDefinition(Name)]
public sealed class ClusterGrainCollection : ICollectionFixture<ClusterGrainFixture>
{
    public const string Name = "vpod-clusters";
}
