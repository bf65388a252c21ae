using System.Reflection.PortableExecutable;
using System.Runtime.InteropServices;
using System.Text.Json;
using MetaNode.Grains.Runtime.Process;

namespace MetaNode.Tests.Runtime;

/// <summary>
/// The reference workload the process runtime starts by default is the build's ahead-of-time compiled copy: its own folder
/// (<c>workload/</c>) with its own dependency manifest, the workload and the libraries it spends its CPU in compiled ReadyToRun.
/// </summary>
public sealed class ReferenceWorkloadBuildTests
{
    private static readonly string[] CompiledAheadOfTime =
    [
        "MetaNode.Workload.dll", "MetaNode.Protocol.dll", "MetaNode.Interfaces.dll", "Nethereum.Util.dll", "Secp256k1.Net.dll", "Orleans.Serialization.dll",
    ];

    [Fact]
    public void TheDefaultReferenceWorkload_IsTheAheadOfTimeCopyInItsOwnFolder()
    {
        var path = new ProcessRuntimeOptions().ReferenceWorkloadPath;

        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "workload", "MetaNode.Workload.dll"), path);
        Assert.True(File.Exists(path), $"the build publishes the reference workload to {path}");
        var folder = Path.GetDirectoryName(path)!;
        using var deps = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "MetaNode.Workload.deps.json")));
        Assert.Contains(deps.RootElement.GetProperty("targets").EnumerateObject(), t => t.Name.EndsWith("/" + RuntimeInformation.RuntimeIdentifier, StringComparison.Ordinal));
        foreach (var library in CompiledAheadOfTime)
        {
            Assert.True(IsReadyToRun(Path.Combine(folder, library)), $"{library} in {folder} is compiled ahead of time");
        }
    }

    [Fact]
    public void ThePlainBuildBesideTheSilo_IsOnlyIntermediateLanguage()
    {
        // The check above can tell the two apart: the copy every project references is not precompiled.
        Assert.False(IsReadyToRun(Path.Combine(AppContext.BaseDirectory, "MetaNode.Workload.dll")));
        Assert.False(IsReadyToRun(Path.Combine(AppContext.BaseDirectory, "Nethereum.Util.dll")));
    }

    [Theory]
    [InlineData("workload")]
    [InlineData("")]
    public void BothCopies_KeepIdleThreadPoolWorkersFromSpinning(string folder)
    {
        // A workload under a cpu quota pays for every spin of an idle worker out of its share.
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, folder, "MetaNode.Workload.runtimeconfig.json")));
        var properties = document.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.Equal(0, properties.GetProperty("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit").GetInt32());
    }

    [Fact]
    public void TheAheadOfTimeCopy_TiersWithoutTheProfilingTier_ThePlainOneKeepsTheDefaults()
    {
        // Under a fraction of a core, compiling hot methods twice more (instrumented, then optimized) ate the first rounds' quota:
        // the precompiled copy recompiles them once, optimized. The plain copy keeps the runtime's defaults.
        var aheadOfTime = ConfigProperties(Path.Combine(AppContext.BaseDirectory, "workload", "MetaNode.Workload.runtimeconfig.json"));
        Assert.False(aheadOfTime.GetProperty("System.Runtime.TieredPGO").GetBoolean());
        Assert.False(aheadOfTime.TryGetProperty("System.Runtime.TieredCompilation", out var tiered) && tiered.ValueKind == JsonValueKind.False);
        Assert.False(aheadOfTime.GetProperty("System.GC.Server").GetBoolean());

        var plain = ConfigProperties(Path.Combine(AppContext.BaseDirectory, "MetaNode.Workload.runtimeconfig.json"));
        Assert.False(plain.TryGetProperty("System.Runtime.TieredPGO", out _));
        Assert.False(plain.TryGetProperty("System.Runtime.TieredCompilation", out _));
        Assert.False(plain.GetProperty("System.GC.Server").GetBoolean());

        static JsonElement ConfigProperties(string path)
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            return document.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties").Clone();
        }
    }

    [Fact]
    public void WithoutTheAheadOfTimeCopy_TheDefaultIsThePlainOneBesideTheSilo()
    {
        // A publish for one platform carries no workload/ folder; the plain workload beside the silo still runs.
        var silo = Directory.CreateTempSubdirectory("metanode-silo-dir-").FullName;
        try
        {
            Assert.Equal(Path.Combine(silo, "MetaNode.Workload.dll"), ProcessRuntimeOptions.DefaultReferenceWorkloadPath(silo));
            Directory.CreateDirectory(Path.Combine(silo, "workload"));
            File.WriteAllBytes(Path.Combine(silo, "workload", "MetaNode.Workload.dll"), []);
            Assert.Equal(Path.Combine(silo, "workload", "MetaNode.Workload.dll"), ProcessRuntimeOptions.DefaultReferenceWorkloadPath(silo));
        }
        finally
        {
            Directory.Delete(silo, recursive: true);
        }
    }

    /// <summary>A ReadyToRun image carries a managed native header in its CLI header; an IL-only assembly does not.</summary>
    private static bool IsReadyToRun(string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new PEReader(stream);
        return reader.PEHeaders.CorHeader is { ManagedNativeHeaderDirectory.Size: > 0 };
    }
}
