using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Runtime.Kubernetes;

public static class KubernetesRuntimeServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <c>kubernetes</c> runtime driver as a silo-wide singleton (as itself and as <see cref="IVPodRuntime"/>), with
    /// <see cref="KubernetesRuntimeOptions"/> bound from <c>MetaNode:Runtime:Kubernetes</c> and validated on start. Nothing connects
    /// until a vPod uses it, so a silo without a Kubernetes configuration starts. Adding it twice changes nothing.
    /// </summary>
    public static IServiceCollection AddKubernetesRuntime(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (services.Any(static d => d.ServiceType == typeof(KubernetesRuntime)))
        {
            return services;
        }

        services.AddOptions<KubernetesRuntimeOptions>()
            .BindConfiguration(KubernetesRuntimeOptions.SectionName)
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KubernetesRuntimeOptions>, KubernetesRuntimeOptionsValidator>());
        services.TryAddSingleton<KubernetesRuntime>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IVPodRuntime, KubernetesRuntime>(static sp => sp.GetRequiredService<KubernetesRuntime>()));
        return services;
    }
}
