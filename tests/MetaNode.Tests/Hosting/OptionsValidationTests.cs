using MetaNode.Grains.VPods;
using MetaNode.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace MetaNode.Tests.Hosting;

public sealed class OptionsValidationTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void Defaults_AreTheEmbeddedProfile()
    {
        var options = Config().ReadMetaNodeOptions();
        Assert.Equal(SiloProfile.Embedded, options.Profile);
        Assert.Equal((11111, 30000, "127.0.0.1:8080"), (options.SiloPort, options.GatewayPort, options.HttpAddress));
        Assert.True(Path.IsPathFullyQualified(options.DataDirectory));
    }

    [Fact]
    public void ClusterProfile_WithoutConnectionString_NamesTheKey()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Config(("MetaNode:Profile", "Cluster")).ReadMetaNodeOptions());
        Assert.Contains(error.Failures, f => f.Contains("MetaNode:Database:ConnectionString", StringComparison.Ordinal));
    }

    [Fact]
    public void TlsSettings_ThatCannotBeHonoured_AreRefused_NamingTheKey()
    {
        var cluster = Assert.Throws<OptionsValidationException>(() => Config(("MetaNode:Profile", "Cluster"), ("MetaNode:Database:ConnectionString", "Host=db")).ReadMetaNodeOptions());
        Assert.Contains(cluster.Failures, f => f.StartsWith("The Cluster profile needs certificates", StringComparison.Ordinal));

        var partial = Assert.Throws<OptionsValidationException>(() => Config(("MetaNode:Tls:CaCertificate", "/x/ca.crt")).ReadMetaNodeOptions());
        Assert.Contains(partial.Failures, f => f.Contains("MetaNode:Tls:Key is required", StringComparison.Ordinal));

        var httpsInsecure = Assert.Throws<OptionsValidationException>(() => Config(("MetaNode:Tls:Insecure", "true"), ("MetaNode:HttpsAddress", "127.0.0.1:8443")).ReadMetaNodeOptions());
        Assert.Contains(httpsInsecure.Failures, f => f.StartsWith("MetaNode:HttpsAddress needs the silo's certificate", StringComparison.Ordinal));

        var home = Assert.Throws<OptionsValidationException>(() => Config(("MetaNode:Tls:Insecure", "true"), ("MetaNode:Tls:IdentityHome", "/tmp/h")).ReadMetaNodeOptions());
        Assert.Contains(home.Failures, f => f.StartsWith("MetaNode:Tls:IdentityHome is used only", StringComparison.Ordinal));

        Assert.True(Config(("MetaNode:Profile", "Cluster"), ("MetaNode:Database:ConnectionString", "Host=db"), ("MetaNode:Tls:Insecure", "true")).ReadMetaNodeOptions().Tls.Insecure);
    }

    [Fact]
    public void BadValues_AreAllReported_WithKeyAndValue()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Config(
            ("MetaNode:SiloPort", "70000"),
            ("MetaNode:GatewayPort", "0"),
            ("MetaNode:HttpAddress", "localhost"),
            ("MetaNode:AdvertisedAddress", "not-an-ip")).ReadMetaNodeOptions());
        Assert.Contains(error.Failures, f => f.Contains("MetaNode:SiloPort", StringComparison.Ordinal) && f.Contains("'70000'", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("MetaNode:GatewayPort", StringComparison.Ordinal) && f.Contains("'0'", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("MetaNode:HttpAddress", StringComparison.Ordinal) && f.Contains("'localhost'", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("MetaNode:AdvertisedAddress", StringComparison.Ordinal) && f.Contains("'not-an-ip'", StringComparison.Ordinal));
    }

    [Fact]
    public void VPodOptions_RejectsNonPositiveDurationsAndThresholds()
    {
        var result = new VPodOptionsValidator().Validate(null, new VPodOptions
        {
            ProbeInterval = TimeSpan.Zero,
            FailureThreshold = 0,
            RestartBackoffInitial = TimeSpan.FromMinutes(10),
            RestartBackoffCap = TimeSpan.FromMinutes(1),
        });
        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains("MetaNode:VPods:ProbeInterval", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.Contains("MetaNode:VPods:FailureThreshold", StringComparison.Ordinal) && f.Contains("'0'", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.Contains("RestartBackoffCap", StringComparison.Ordinal));
        Assert.True(new VPodOptionsValidator().Validate(null, new VPodOptions()).Succeeded);
    }
}
