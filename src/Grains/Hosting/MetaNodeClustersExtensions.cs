using MetaNode.Grains.Orchestration;
using MetaNode.Grains.Placement;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Hosting;

public static class MetaNodeClustersExtensions
{
    /// <summary>
    /// Registers vPod clusters: capacity-aware vPod placement (<see cref="VPodPlacement"/>), the options of leader election
    /// (<c>MetaNode:Orchestration</c>) and silo capacity (<c>MetaNode:Capacity</c>), and the keeper that runs orchestrator agents.
    /// </summary>
    public static IServiceCollection AddMetaNodeClusters(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<MetaNode.Grains.Hosting.MetaNodeMetrics>();
        services.AddOptions<OrchestrationOptions>().BindConfiguration(OrchestrationOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OrchestrationOptions>, OrchestrationOptionsValidator>());
        services.AddOptions<SiloCapacityOptions>().BindConfiguration(SiloCapacityOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SiloCapacityOptions>, SiloCapacityOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddPlacementDirector<VPodPlacement, VPodPlacementDirector>();
        services.AddPlacementDirector<OrchestratorPlacement, OrchestratorPlacementDirector>();
        services.AddSingleton<OrchestratorKeeper>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<OrchestratorKeeper>());
        return services;
    }
}
