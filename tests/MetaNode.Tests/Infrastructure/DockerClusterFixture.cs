using Orleans.TestingHost;

namespace MetaNode.Tests.Infrastructure;

/// <summary>
/// A Docker Engine (<see cref="DockerEngine"/>) and one in-process silo whose docker runtime uses it: SQLite storage in a
/// temporary directory, probes and backoff shortened so tests converge fast.
/// </summary>
public sealed class DockerClusterFixture : IAsyncLifetime
{
    public DockerEngine Engine { get; } = new();

    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), "metanode-tests", "docker-" + Guid.NewGuid().ToString("N")[..12]);

    /// <summary>The one host directory the silo lets docker vPods bind-mount from (<c>AllowedBindRoots</c>).</summary>
    public string BindRoot { get; } = Path.Combine(Path.GetTempPath(), "metanode-tests", "docker-binds-" + Guid.NewGuid().ToString("N")[..12]);

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    /// <summary>Settings every silo of the docker tests gets (in-process and real processes).</summary>
    public IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["MetaNode:Runtime:Docker:Endpoint"] = Engine.Endpoint,
        ["MetaNode:Runtime:Docker:PullTimeout"] = "00:00:30",
        ["MetaNode:Runtime:Docker:AllowedBindRoots:0"] = BindRoot,
        ["MetaNode:VPods:ProbeInterval"] = "00:00:00.300",
        ["MetaNode:VPods:StartupProbeInterval"] = "00:00:00.100",
        ["MetaNode:VPods:StartupGracePeriod"] = "00:00:20",
        ["MetaNode:VPods:FailureThreshold"] = "3",
        ["MetaNode:VPods:RestartBackoffInitial"] = "00:00:00.100",
        ["MetaNode:VPods:RestartBackoffCap"] = "00:00:00.500",
        ["MetaNode:VPods:OrphanStopTimeout"] = "00:00:02",
    };

    public async Task InitializeAsync()
    {
        await Engine.InitializeAsync();
        Directory.CreateDirectory(BindRoot);
        Cluster = await new TestSiloBuilder().WithSettings(Settings).WithMetaNode(DataDirectory).StartAsync();
    }

    public async Task DisposeAsync()
    {
        await TestSiloBuilder.StopAsync(Cluster);
        await Engine.DisposeAsync();
        TestSiloBuilder.CleanUp(DataDirectory);
        try
        {
            if (Directory.Exists(BindRoot))
            {
                Directory.Delete(BindRoot, recursive: true);
            }
        }
        catch (IOException)
        {
            // Left for the OS to clean.
        }
    }
}

[CollectionDefinition(Name)]
public sealed class DockerCollection : ICollectionFixture<DockerClusterFixture>
{
    public const string Name = "docker";
}
