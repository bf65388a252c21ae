using MetaNode.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Hosting;

public static class MetaNodeStorageExtensions
{
    /// <summary>Storage clusters: options (<c>MetaNode:Storage</c>) and the block store client.</summary>
    public static IServiceCollection AddMetaNodeStorage(this IServiceCollection services)
    {
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<StorageOptions>, StorageOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpClient(MetaNodeNames.WorkloadHttpClient);
        services.TryAddSingleton(sp => new StorageWorkloadClient(sp.GetRequiredService<IHttpClientFactory>().CreateClient(MetaNodeNames.WorkloadHttpClient)));
        return services;
    }
}
