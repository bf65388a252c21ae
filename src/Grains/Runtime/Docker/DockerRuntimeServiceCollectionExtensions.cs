using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Runtime.Docker;

public static class DockerRuntimeServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <c>docker</c> runtime driver as a silo-wide singleton (as itself and as <see cref="IVPodRuntime"/>), with
    /// <see cref="DockerRuntimeOptions"/> bound from <c>MetaNode:Runtime:Docker</c> and validated on start. Nothing connects to
    /// the engine until a docker vPod is used, so a silo without a Docker Engine starts; using one then fails naming the endpoint.
    /// Adding it twice changes nothing.
    /// </summary>
    public static IServiceCollection AddDockerRuntime(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (services.Any(static d => d.ServiceType == typeof(DockerRuntime)))
        {
            return services;
        }

        services.AddOptions<DockerRuntimeOptions>()
            .BindConfiguration(DockerRuntimeOptions.SectionName)
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DockerRuntimeOptions>, DockerRuntimeOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<DockerRuntime>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IVPodRuntime, DockerRuntime>(static sp => sp.GetRequiredService<DockerRuntime>()));
        return services;
    }
}
