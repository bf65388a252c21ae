using MetaNode.Grains.Runtime;
using MetaNode.Grains.Runtime.Process;
using MetaNode.VPods;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MetaNode.Tests.Runtime;

public sealed class ProcessRuntimeOptionsTests
{
    [Fact]
    public void Validate_Succeeds_ForTheDefaults()
    {
        var result = new ProcessRuntimeOptionsValidator().Validate(null, new ProcessRuntimeOptions());

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Fact]
    public void Validate_ReportsEveryBadSetting_WithItsKeyAndValue()
    {
        var options = new ProcessRuntimeOptions
        {
            DataDirectory = " ",
            ReferenceWorkloadPath = "",
            LogMaxBytes = 12,
            LogMaxFiles = -1,
            HostAddress = "not a host!",
            ShutdownTimeout = TimeSpan.Zero,
            LogPollInterval = TimeSpan.FromMinutes(1),
            InheritedEnvironment = ["PATH", "A=B"],
        };

        var result = new ProcessRuntimeOptionsValidator().Validate(null, options);

        Assert.False(result.Succeeded);
        var failures = result.Failures!.ToList();
        Assert.Equal(8, failures.Count);
        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Process:DataDirectory", StringComparison.Ordinal) && f.Contains("' '", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Process:ReferenceWorkloadPath", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Process:LogMaxBytes", StringComparison.Ordinal) && f.Contains("'12'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Process:LogMaxFiles", StringComparison.Ordinal) && f.Contains("'-1'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Process:HostAddress", StringComparison.Ordinal) && f.Contains("'not a host!'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Process:ShutdownTimeout", StringComparison.Ordinal) && f.Contains("'00:00:00'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Process:LogPollInterval", StringComparison.Ordinal) && f.Contains("'00:01:00'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Process:InheritedEnvironment:1", StringComparison.Ordinal) && f.Contains("'A=B'", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(-1, false)]
    [InlineData(101, false)]
    [InlineData(0, true)]
    [InlineData(100, true)]
    [InlineData(null, true)]
    public void Validate_CpuBurstIsAPercentOfTheQuota(int? percent, bool valid)
    {
        var options = new ProcessRuntimeOptions { Isolation = new ProcessIsolationOptions { CpuBurstPercent = percent } };

        var result = new ProcessRuntimeOptionsValidator().Validate(null, options);

        Assert.Equal(valid, result.Succeeded);
        if (!valid)
        {
            Assert.Contains("MetaNode:Runtime:Process:Isolation:CpuBurstPercent must be 0 to 100", result.FailureMessage, StringComparison.Ordinal);
            Assert.Contains($"'{percent}'", result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AddProcessRuntime_RegistersOneInstance_AsItselfAndAsARuntime()
    {
        var root = Path.Combine(Path.GetTempPath(), "metanode-process-options-tests", Guid.NewGuid().ToString("N"));
        await using var provider = Services(new Dictionary<string, string?>
        {
            ["MetaNode:Runtime:Process:DataDirectory"] = root,
            ["MetaNode:Runtime:Process:LogMaxFiles"] = "5",
            ["MetaNode:Runtime:Process:HostAddress"] = "0.0.0.0",
            ["MetaNode:Runtime:Process:InheritedEnvironment:0"] = "PATH",
            ["MetaNode:Runtime:Process:InheritedEnvironment:1"] = "EXTRA",
        });

        provider.GetRequiredService<IStartupValidator>().Validate();
        var runtime = provider.GetRequiredService<ProcessRuntime>();
        var options = provider.GetRequiredService<IOptions<ProcessRuntimeOptions>>().Value;

        Assert.Same(runtime, Assert.Single(provider.GetServices<IVPodRuntime>()));
        Assert.Equal(DeploymentMethod.Process, runtime.Method);
        Assert.Equal(5, options.LogMaxFiles);
        Assert.Equal("0.0.0.0", options.HostAddress);
        Assert.Equal(["PATH", "EXTRA"], options.InheritedEnvironment);
        Assert.Null(new ProcessRuntimeOptions().InheritedEnvironment);
        Assert.Equal(Path.Combine(root, "vpods", "vpod-x"), runtime.GetVPodDirectory("vpod-x"));
    }

    [Fact]
    public async Task AddProcessRuntime_FailsOnStart_NamingTheBadKeyAndValue()
    {
        await using var provider = Services(new Dictionary<string, string?> { ["MetaNode:Runtime:Process:LogMaxBytes"] = "10" });

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains("MetaNode:Runtime:Process:LogMaxBytes", error.Message, StringComparison.Ordinal);
        Assert.Contains("'10'", error.Message, StringComparison.Ordinal);
    }

    private static ServiceProvider Services(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddProcessRuntime();
        services.AddProcessRuntime();
        return services.BuildServiceProvider();
    }
}
