using k8s;

namespace MetaNode.Grains.Runtime.Kubernetes;

/// <summary>Turns <see cref="KubernetesRuntimeOptions"/> into a client configuration, or says which settings are missing.</summary>
public static class KubernetesConnectionResolver
{
    /// <summary>The connection <see cref="KubernetesConnection.Auto"/> stands for here; null when there is none.</summary>
    public static KubernetesConnection? Effective(KubernetesRuntimeOptions options, bool inCluster)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Connection switch
        {
            KubernetesConnection.Auto when !string.IsNullOrWhiteSpace(options.BaseUrl) => KubernetesConnection.BaseUrl,
            KubernetesConnection.Auto when !string.IsNullOrWhiteSpace(options.KubeConfigPath) => KubernetesConnection.KubeConfig,
            KubernetesConnection.Auto when inCluster => KubernetesConnection.InCluster,
            KubernetesConnection.Auto => null,
            var explicitly => explicitly,
        };
    }

    /// <summary>Builds the client configuration; throws <see cref="InvalidOperationException"/> naming the settings when the runtime is not configured.</summary>
    public static KubernetesClientConfiguration Resolve(KubernetesRuntimeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string Prefix = KubernetesRuntimeOptions.SectionName + ":";
        return Effective(options, KubernetesClientConfiguration.IsInCluster()) switch
        {
            KubernetesConnection.BaseUrl => new KubernetesClientConfiguration { Host = options.BaseUrl },
            KubernetesConnection.KubeConfig => KubernetesClientConfiguration.BuildConfigFromConfigFile(
                string.IsNullOrWhiteSpace(options.KubeConfigPath) ? null : options.KubeConfigPath,
                string.IsNullOrWhiteSpace(options.KubeConfigContext) ? null : options.KubeConfigContext),
            KubernetesConnection.InCluster => KubernetesClientConfiguration.InClusterConfig(),
            _ => throw new InvalidOperationException(
                $"The kubernetes runtime is not configured on this silo: set {Prefix}BaseUrl (an API server URL) or {Prefix}KubeConfigPath, " +
                $"or run the silo in a Kubernetes pod with a service account (KUBERNETES_SERVICE_HOST is not set)."),
        };
    }
}
