using MetaNode.Grains.Runtime.Process;
using MetaNode.Silo.Hosting;
using MetaNode.Tests.Persistence;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MetaNode.Tests.Runtime;

/// <summary>The process runtime's root lies beside the silo's data directory by default, and a root inside it is warned about.</summary>
public sealed class ProcessRuntimeRootTests
{
    [Theory]
    [InlineData("/var/lib/metanode", "/var/lib/metanode-vpods")]
    [InlineData("/var/lib/metanode/", "/var/lib/metanode-vpods")]
    [InlineData("/srv/a/../metanode", "/srv/metanode-vpods")]
    [InlineData("/data", "/data-vpods")]
    public void DefaultFor_AppendsVpodsToTheFullPath_OfTheSiloDataDirectory(string silo, string expected) =>
        Assert.Equal(expected, ProcessRuntimeRoot.DefaultFor(silo));

    [Fact]
    public void DefaultFor_ResolvesARelativeSiloDataDirectory_AgainstTheWorkingDirectory()
    {
        var root = ProcessRuntimeRoot.DefaultFor(".metanode");

        Assert.Equal(Path.Combine(Environment.CurrentDirectory, ".metanode-vpods"), root);
        Assert.False(ProcessRuntimeRoot.IsInside(root, ".metanode"), $"{root} is inside {Path.GetFullPath(".metanode")}");
    }

    [Theory]
    [InlineData(".metanode")]
    [InlineData("/var/lib/metanode")]
    [InlineData("/var/lib/metanode/")]
    [InlineData("relative/dir")]
    public void DefaultFor_IsNeverInsideTheSiloDataDirectory(string silo)
    {
        var root = ProcessRuntimeRoot.DefaultFor(silo);

        Assert.False(ProcessRuntimeRoot.IsInside(root, silo), $"{root} is inside {silo}");
        Assert.Equal(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(silo))), Path.GetDirectoryName(root));
    }

    [Fact]
    public void DefaultFor_RefusesAFileSystemRoot_NamingTheSettings()
    {
        var error = Assert.Throws<ArgumentException>(() => ProcessRuntimeRoot.DefaultFor("/"));

        Assert.Contains("MetaNode:DataDirectory '/'", error.Message, StringComparison.Ordinal);
        Assert.Contains("MetaNode:Runtime:Process:DataDirectory", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/var/lib/metanode", "/var/lib/metanode", true)]
    [InlineData("/var/lib/metanode/vpods", "/var/lib/metanode", true)]
    [InlineData("/var/lib/metanode/a/b/", "/var/lib/metanode/", true)]
    [InlineData("/var/lib/metanode-vpods", "/var/lib/metanode", false)]
    [InlineData("/var/lib/metanodes", "/var/lib/metanode", false)]
    [InlineData("/var/lib/metanode/../other", "/var/lib/metanode", false)]
    [InlineData("/var/lib", "/var/lib/metanode", false)]
    [InlineData("/anything", "/", true)]
    public void IsInside_ComparesFullPaths_ByWholeDirectoryNames(string path, string directory, bool expected) =>
        Assert.Equal(expected, ProcessRuntimeRoot.IsInside(path, directory));

    [Fact]
    public void Check_WarnsNamingBothPaths_WhenTheConfiguredRootIsInsideTheSiloDataDirectory()
    {
        var logger = new ListLogger<ProcessRuntimeRootCheck>();
        var check = new ProcessRuntimeRootCheck("/var/lib/metanode", Options.Create(new ProcessRuntimeOptions { DataDirectory = "/var/lib/metanode/processes" }), logger);

        Assert.True(check.Check());

        var (level, message) = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Warning, level);
        Assert.Contains("/var/lib/metanode/processes", message, StringComparison.Ordinal);
        Assert.Contains("silo's data directory /var/lib/metanode:", message, StringComparison.Ordinal);
        Assert.Contains("workload keys", message, StringComparison.Ordinal);
        Assert.Contains("would then live under the silo's data directory", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/var/lib/metanode-vpods")]
    [InlineData("/srv/vpods")]
    public void Check_StaysQuiet_WhenTheRootIsOutsideTheSiloDataDirectory(string root)
    {
        var logger = new ListLogger<ProcessRuntimeRootCheck>();
        var check = new ProcessRuntimeRootCheck("/var/lib/metanode", Options.Create(new ProcessRuntimeOptions { DataDirectory = root }), logger);

        Assert.False(check.Check());
        Assert.Empty(logger.Entries);
    }

    [Fact]
    public void AddMetaNodeServices_PutsTheProcessRootBesideTheSiloDataDirectory_WhenNoneIsConfigured()
    {
        var silo = Path.Combine(Path.GetTempPath(), "metanode-root-tests", Guid.NewGuid().ToString("N"), "data");
        using var host = BuildSilo(silo, configuredRoot: null);

        var root = host.Services.GetRequiredService<IOptions<ProcessRuntimeOptions>>().Value.DataDirectory;

        Assert.Equal(silo + "-vpods", root);
        Assert.False(ProcessRuntimeRoot.IsInside(root, silo), $"{root} is inside {silo}");
        var check = Assert.Single(host.Services.GetServices<ILifecycleParticipant<ISiloLifecycle>>().OfType<ProcessRuntimeRootCheck>());
        Assert.False(check.Check());
    }

    [Fact]
    public void AddMetaNodeServices_KeepsAConfiguredProcessRoot_AndItsCheckWarns_WhenItIsInsideTheSiloDataDirectory()
    {
        var silo = Path.Combine(Path.GetTempPath(), "metanode-root-tests", Guid.NewGuid().ToString("N"), "data");
        var inside = Path.Combine(silo, "workloads");
        using var host = BuildSilo(silo, inside);

        var root = host.Services.GetRequiredService<IOptions<ProcessRuntimeOptions>>().Value.DataDirectory;

        Assert.Equal(inside, root);
        var check = Assert.Single(host.Services.GetServices<ILifecycleParticipant<ISiloLifecycle>>().OfType<ProcessRuntimeRootCheck>());
        Assert.True(check.Check());
    }

    private static IHost BuildSilo(string siloDataDirectory, string? configuredRoot)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        if (configuredRoot is not null)
        {
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["MetaNode:Runtime:Process:DataDirectory"] = configuredRoot });
        }

        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering();
            silo.AddMetaNodeServices(new MetaNodeSiloOptions { DataDirectory = siloDataDirectory });
        });
        return builder.Build();
    }
}
