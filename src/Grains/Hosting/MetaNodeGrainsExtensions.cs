using MetaNode.Grains.Chain;
using MetaNode.Grains.Runtime;
using MetaNode.Grains.VPods;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Hosting;

public static class MetaNodeGrainsExtensions
{
    /// <summary>Registers what the vPod grains need on a silo: options, runtime resolution, workload probes, start-up reconciliation.
    /// Runtimes themselves are added by their own extensions (e.g. <c>AddProcessRuntime</c>).</summary>
    public static IServiceCollection AddMetaNodeGrains(this IServiceCollection services)
    {
        services.AddOptions<VPodOptions>().BindConfiguration(VPodOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<VPodOptions>, VPodOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IVPodRuntimeResolver, VPodRuntimeResolver>();
        services.AddHttpClient(MetaNodeNames.WorkloadHttpClient);
        services.TryAddSingleton<IWorkloadProbe, HttpWorkloadProbe>();
        services.TryAddSingleton<MetaNodeMetrics>();
        services.AddMetaNodeChain();
        services.AddSingleton<VPodReconciler>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<VPodReconciler>());
        services.AddMetaNodeClusters();
        services.AddMetaNodeFederation();
        services.AddMetaNodeStorage();
        services.TryAddSingleton<WorkloadIdentityVerifier>();
        return services;
    }
}
