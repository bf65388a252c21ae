using MetaNode.Grains.Federation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Hosting;

public static class MetaNodeFederationExtensions
{
    /// <summary>Federated jobs: options (<c>MetaNode:Federation:Jobs</c>), the workload client and the fault seam.</summary>
    public static IServiceCollection AddMetaNodeFederation(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<MetaNode.Grains.Hosting.MetaNodeMetrics>();
        services.AddOptions<FederatedJobOptions>().BindConfiguration(FederatedJobOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FederatedJobOptions>, FederatedJobOptionsValidator>());
        services.AddOptions<DatasetOptions>().BindConfiguration(DatasetOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DatasetOptions>, DatasetOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IFederatedFaults, NoFederatedFaults>();
        services.AddHttpClient(MetaNodeNames.WorkloadHttpClient);
        services.TryAddSingleton(sp => new FederatedWorkloadClient(
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(MetaNodeNames.WorkloadHttpClient),
            sp.GetRequiredService<IOptions<FederatedJobOptions>>().Value.MaxWorkloadResponseBytes));
        return services;
    }
}
