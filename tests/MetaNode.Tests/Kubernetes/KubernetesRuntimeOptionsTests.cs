using MetaNode.Grains.Runtime.Kubernetes;

namespace MetaNode.Tests.Kubernetes;

public sealed class KubernetesRuntimeOptionsTests
{
    [Fact]
    public void Validate_Succeeds_WhenNothingIsConfigured()
    {
        Assert.True(new KubernetesRuntimeOptionsValidator().Validate(null, new KubernetesRuntimeOptions()).Succeeded);
    }

    [Fact]
    public void Validate_ReportsEveryBadSetting_WithItsKeyAndValue()
    {
        var result = new KubernetesRuntimeOptionsValidator().Validate(null, new KubernetesRuntimeOptions
        {
            Connection = KubernetesConnection.BaseUrl,
            Namespace = "Not_A_Namespace",
            LabelPrefix = "-bad",
            DefaultStorageClass = "Fast SSD",
            SiloSelector = "app",
            TerminationGracePeriodSeconds = -1,
            WatchTimeout = TimeSpan.Zero,
        });

        Assert.True(result.Failed);
        var failures = result.Failures!.ToList();
        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Kubernetes:BaseUrl is required", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Kubernetes:Namespace", StringComparison.Ordinal) && f.Contains("'Not_A_Namespace'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Kubernetes:LabelPrefix", StringComparison.Ordinal) && f.Contains("'-bad'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Kubernetes:DefaultStorageClass", StringComparison.Ordinal) && f.Contains("'Fast SSD'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Kubernetes:SiloSelector", StringComparison.Ordinal) && f.Contains("'app'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Kubernetes:TerminationGracePeriodSeconds", StringComparison.Ordinal) && f.Contains("'-1'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MetaNode:Runtime:Kubernetes:WatchTimeout", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_RejectsABaseUrl_ThatIsNotHttp()
    {
        var result = new KubernetesRuntimeOptionsValidator().Validate(null, new KubernetesRuntimeOptions { BaseUrl = "ftp://example" });

        Assert.Contains(result.Failures!, f => f.Contains("MetaNode:Runtime:Kubernetes:BaseUrl", StringComparison.Ordinal) && f.Contains("'ftp://example'", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(KubernetesConnection.Auto, "http://127.0.0.1:8001", null, false, KubernetesConnection.BaseUrl)]
    [InlineData(KubernetesConnection.Auto, null, "/etc/kube/config", true, KubernetesConnection.KubeConfig)]
    [InlineData(KubernetesConnection.Auto, null, null, true, KubernetesConnection.InCluster)]
    [InlineData(KubernetesConnection.Auto, null, null, false, null)]
    [InlineData(KubernetesConnection.KubeConfig, null, null, true, KubernetesConnection.KubeConfig)]
    public void Effective_PicksTheConnection_FromWhatIsConfigured(KubernetesConnection mode, string? baseUrl, string? kubeConfig, bool inCluster, KubernetesConnection? expected)
    {
        var options = new KubernetesRuntimeOptions { Connection = mode, BaseUrl = baseUrl, KubeConfigPath = kubeConfig };

        Assert.Equal(expected, KubernetesConnectionResolver.Effective(options, inCluster));
    }
}
