using System.Diagnostics;
using MetaNode.Silo.Hosting;
using MetaNode.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace MetaNode.Tests.Kubernetes;

/// <summary>The silo's configuration path inside a pod: endpoints and names from the downward API, failing fast without them.</summary>
public sealed class KubernetesHostingTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private static readonly (string, string)[] PodSettings =
    [
        ("MetaNode:Profile", "Cluster"),
        ("MetaNode:Database:ConnectionString", "Host=postgres;Database=metanode;Username=metanode"),
        ("MetaNode:HttpAddress", "0.0.0.0:8080"),
        ("MetaNode:Kubernetes:Enabled", "true"),
        ("MetaNode:Tls:CaCertificate", "/etc/metanode/tls/ca.crt"),
        ("MetaNode:Tls:CaKey", "/etc/metanode/tls/ca.key"),
        ("MetaNode:Tls:Certificate", "/etc/metanode/tls/silo.crt"),
        ("MetaNode:Tls:Key", "/etc/metanode/tls/silo.key"),
    ];

    [Fact]
    public void ReadMetaNodeOptions_TakesTheAdvertisedAddressAndNamesFromThePod_WhenKubernetesIsEnabled()
    {
        var options = Config([.. PodSettings, ("POD_IP", "10.42.0.7"), ("POD_NAME", "metanode-silo-1"), ("POD_NAMESPACE", "metanode")]).ReadMetaNodeOptions();

        Assert.Equal("10.42.0.7", options.AdvertisedAddress);
        Assert.Equal(("metanode-silo-1", "metanode"), (options.Kubernetes.PodName, options.Kubernetes.PodNamespace));
    }

    [Fact]
    public void ReadMetaNodeOptions_NamesEveryMissingVariable_WhenThePodEnvironmentIsMissing()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Config(PodSettings).ReadMetaNodeOptions());

        Assert.Contains(error.Failures, f => f.Contains("POD_IP is not set", StringComparison.Ordinal) && f.Contains("status.podIP", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("POD_NAME is not set", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("POD_NAMESPACE is not set", StringComparison.Ordinal));
    }

    [Fact]
    public void ReadMetaNodeOptions_RejectsLoopbackHttpAndTheEmbeddedProfile_WhenKubernetesIsEnabled()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Config(
            ("MetaNode:Kubernetes:Enabled", "true"), ("POD_IP", "not-an-ip"), ("POD_NAME", "silo-0"), ("POD_NAMESPACE", "metanode")).ReadMetaNodeOptions());

        Assert.Contains(error.Failures, f => f.Contains("MetaNode:Profile 'Cluster'", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("MetaNode:HttpAddress", StringComparison.Ordinal) && f.Contains("'127.0.0.1:8080'", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("POD_IP must be the pod's IP address, got 'not-an-ip'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Silo_ExitsWithCode2AndNamesPodIp_WhenStartedForKubernetesWithoutThePodEnvironment()
    {
        var info = new ProcessStartInfo(SiloProcess.DotnetHost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "metanode-silo.dll"));
        foreach (var (key, value) in PodSettings)
        {
            info.ArgumentList.Add($"--{key}={value}");
        }

        info.Environment.Remove("POD_IP");
        info.Environment.Remove("POD_NAME");
        info.Environment.Remove("POD_NAMESPACE");
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(2, process.ExitCode);
        Assert.Contains("POD_IP is not set", await stderr, StringComparison.Ordinal);
        _ = await stdout;
    }
}
