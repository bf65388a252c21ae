using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Chain;

public static class ChainServiceCollectionExtensions
{
    /// <summary>
    /// The chain connector and keys (<c>MetaNode:Chain</c>): connection, operator account, registry reads,
    /// and the watcher's start-up. With no RPC URL the connector stays disabled until a dev chain configures it.
    /// </summary>
    public static IServiceCollection AddMetaNodeChain(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<MetaNode.Grains.Hosting.MetaNodeMetrics>();
        services.AddOptions<ChainOptions>().BindConfiguration(ChainOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ChainOptions>, ChainOptionsValidator>());
        services.TryAddSingleton<ChainConnector>();
        services.TryAddSingleton<ChainAccounts>();
        services.TryAddSingleton<RegistryClient>();
        services.TryAddSingleton<ChainWatcherStarter>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ChainWatcherStarter>());
        return services;
    }
}
