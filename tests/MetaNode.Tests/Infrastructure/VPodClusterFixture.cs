using MetaNode.Silo.Hosting;
using Microsoft.Extensions.Configuration;
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
        }));
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
public sealed class VPodClusterCollection : ICollectionFixture<VPodClusterFixture>
{
    public const string Name = "vpod-cluster";
}
