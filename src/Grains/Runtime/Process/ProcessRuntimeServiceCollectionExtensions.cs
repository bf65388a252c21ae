using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Runtime.Process;

public static class ProcessRuntimeServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <c>process</c> runtime driver as a silo-wide singleton (as itself and as <see cref="IVPodRuntime"/>),
    /// with <see cref="ProcessRuntimeOptions"/> bound from <c>MetaNode:Runtime:Process</c> and validated on start. Adding it twice changes nothing.
    /// </summary>
    public static IServiceCollection AddProcessRuntime(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (services.Any(static d => d.ServiceType == typeof(ProcessRuntime)))
        {
            // Already added: binding the section again would append to its lists.
            return services;
        }

        services.AddOptions<ProcessRuntimeOptions>()
            .BindConfiguration(ProcessRuntimeOptions.SectionName)
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ProcessRuntimeOptions>, ProcessRuntimeOptionsValidator>());
        services.TryAddSingleton<ProcessRuntime>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IVPodRuntime, ProcessRuntime>(static sp => sp.GetRequiredService<ProcessRuntime>()));
        return services;
    }
}
