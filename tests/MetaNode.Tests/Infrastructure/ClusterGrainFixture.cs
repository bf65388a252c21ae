using MetaNode.Silo.Hosting;
using Microsoft.Extensions.Configuration;
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

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSiloHost((_, host) => host.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MetaNode:VPods:ProbeInterval"] = "00:00:00.200",
            ["MetaNode:VPods:StartupProbeInterval"] = "00:00:00.100",
            ["MetaNode:VPods:StartupGracePeriod"] = "00:00:05", // a reference workload that starts slowly on a loaded machine is not restarted
            ["MetaNode:VPods:FailureThreshold"] = "2",
            ["MetaNode:VPods:RestartBackoffInitial"] = "00:00:00.100",
            ["MetaNode:VPods:RestartBackoffCap"] = "00:00:00.400",
            ["MetaNode:VPods:OrphanStopTimeout"] = "00:00:02",
            ["MetaNode:Orchestration:LeaseTtl"] = LeaseTtl.ToString(),
            ["MetaNode:Orchestration:RenewalPeriod"] = RenewalPeriod.ToString(),
            ["MetaNode:Orchestration:MaxClockSkew"] = "00:00:00.250",
            ["MetaNode:Capacity:Cpu"] = "4",
            ["MetaNode:Capacity:Memory"] = "4Gi",
        }));
        builder.ConfigureClient(client => client.AddMemoryStreams(MetaNode.Grains.Hosting.MetaNodeNames.StreamProvider));
        builder.ConfigureSilo((_, silo) =>
        {
            var options = new MetaNodeSiloOptions { DataDirectory = DataDirectory };
            silo.AddMetaNodePersistence(options).AddMetaNodeServices(options);
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        SiloProcess.KillWorkloadsUnder(DataDirectory);
        try
        {
            MetaNode.Tests.Infrastructure.SiloProcess.DeleteSiloDirectories(DataDirectory);
        }
        catch (IOException)
        {
            // A workload still flushing its log; the temporary directory is left for the OS to clean.
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterGrainCollection : ICollectionFixture<ClusterGrainFixture>
{
    public const string Name = "vpod-clusters";
}
