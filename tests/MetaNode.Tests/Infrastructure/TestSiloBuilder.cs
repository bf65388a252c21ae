using MetaNode.Grains.Hosting;
using MetaNode.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.TestingHost;

namespace MetaNode.Tests.Infrastructure;

/// <summary>
/// The one way the tests start an in-process cluster of one silo (loopback ports from the testing host's allocator): settings
/// from memory (later ones override earlier ones), the MetaNode persistence and services of the embedded profile when a data
/// directory is given, a clock of the test's own when one is given, and whatever else a test adds to the silo or its client.
/// </summary>
internal sealed class TestSiloBuilder
{
    /// <summary>Probes, startup grace and restart backoff short enough for a test to see a vPod fail and come back.</summary>
    public static readonly IReadOnlyDictionary<string, string?> FastVPods = new Dictionary<string, string?>
    {
        ["MetaNode:VPods:ProbeInterval"] = "00:00:00.200",
        ["MetaNode:VPods:StartupProbeInterval"] = "00:00:00.100",
        ["MetaNode:VPods:StartupGracePeriod"] = "00:00:05", // a reference workload that starts slowly on a loaded machine is not restarted
        ["MetaNode:VPods:FailureThreshold"] = "2",
        ["MetaNode:VPods:RestartBackoffInitial"] = "00:00:00.100",
        ["MetaNode:VPods:RestartBackoffCap"] = "00:00:00.400",
        ["MetaNode:VPods:OrphanStopTimeout"] = "00:00:02",
    };

    private readonly Dictionary<string, string?> _settings = new(StringComparer.Ordinal);
    private readonly List<Action<ISiloBuilder>> _silo = [];
    private readonly List<Action<IClientBuilder>> _client = [];
    private string? _dataDirectory;
    private TimeProvider? _time;
    private string? _serviceId;
    private bool _fileLogging = true;

    /// <summary>Adds settings to the silo's configuration; a key given again takes the later value.</summary>
    public TestSiloBuilder WithSettings(IEnumerable<KeyValuePair<string, string?>> settings)
    {
        foreach (var (key, value) in settings)
        {
            _settings[key] = value;
        }

        return this;
    }

    /// <summary>The embedded profile's MetaNode persistence (SQLite in <paramref name="dataDirectory"/>) and all MetaNode services.</summary>
    public TestSiloBuilder WithMetaNode(string dataDirectory)
    {
        _dataDirectory = dataDirectory;
        return this;
    }

    /// <summary>The clock every MetaNode grain and service of the silo reads (a fake one a test moves by hand).</summary>
    public TestSiloBuilder WithTime(TimeProvider time)
    {
        _time = time;
        return this;
    }

    /// <summary>The cluster's service id (storage rows are keyed by it, so a restarted cluster with the same id finds its state).</summary>
    public TestSiloBuilder WithServiceId(string serviceId)
    {
        _serviceId = serviceId;
        return this;
    }

    public TestSiloBuilder WithoutFileLogging()
    {
        _fileLogging = false;
        return this;
    }

    /// <summary>Runs after the MetaNode registrations, so it may add to or replace them.</summary>
    public TestSiloBuilder ConfigureSilo(Action<ISiloBuilder> configure)
    {
        _silo.Add(configure);
        return this;
    }

    /// <summary>Memory streams of the MetaNode stream provider on the client, so a test can subscribe to what grains publish.</summary>
    public TestSiloBuilder WithClientStreams() => ConfigureClient(client => client.AddMemoryStreams(MetaNodeNames.StreamProvider));

    public TestSiloBuilder ConfigureClient(Action<IClientBuilder> configure)
    {
        _client.Add(configure);
        return this;
    }

    /// <summary>Builds and deploys the cluster; a cluster that fails to deploy is disposed before the failure is thrown.</summary>
    public async Task<InProcessTestCluster> StartAsync()
    {
        var settings = new Dictionary<string, string?>(_settings, StringComparer.Ordinal);
        var dataDirectory = _dataDirectory;
        var time = _time;
        var silo = _silo.ToArray();
        var client = _client.ToArray();

        var builder = new InProcessTestClusterBuilder(1);
        builder.Options.ConfigureFileLogging = _fileLogging;
        if (_serviceId is not null)
        {
            builder.Options.ServiceId = _serviceId;
        }

        if (settings.Count > 0)
        {
            builder.ConfigureSiloHost((_, host) => host.Configuration.AddInMemoryCollection(settings));
        }

        foreach (var configure in client)
        {
            builder.ConfigureClient(configure);
        }

        builder.ConfigureSilo((_, siloBuilder) =>
        {
            if (dataDirectory is not null)
            {
                var options = new MetaNodeSiloOptions { DataDirectory = dataDirectory };
                siloBuilder.AddMetaNodePersistence(options).AddMetaNodeServices(options);
            }

            if (time is not null)
            {
                siloBuilder.Services.RemoveAll<TimeProvider>();
                siloBuilder.Services.AddSingleton(time);
            }

            foreach (var configure in silo)
            {
                configure(siloBuilder);
            }
        });

        var cluster = builder.Build();
        try
        {
            await cluster.DeployAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops and disposes the cluster (if it was started), then <see cref="CleanUp"/> of <paramref name="dataDirectory"/> if one is given.</summary>
    public static async Task StopAsync(InProcessTestCluster? cluster, string? dataDirectory = null)
    {
        if (cluster is not null)
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }

        if (dataDirectory is not null)
        {
            CleanUp(dataDirectory);
        }
    }

    /// <summary>
    /// Kills what workloads a process runtime left under <paramref name="dataDirectory"/> and deletes the silo's directories
    /// (a workload still flushing its log leaves them for the OS to clean).
    /// </summary>
    public static void CleanUp(string dataDirectory)
    {
        SiloProcess.KillWorkloadsUnder(dataDirectory);
        try
        {
            SiloProcess.DeleteSiloDirectories(dataDirectory);
        }
        catch (IOException)
        {
            // A workload still flushing its log; the temporary directory is left for the OS to clean.
        }
    }
}
