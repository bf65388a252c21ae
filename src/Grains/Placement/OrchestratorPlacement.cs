using MetaNode.VPods;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace MetaNode.Grains.Placement;

/// <summary>Places an orchestrator agent (keyed by its vPod id) on the silo where that vPod's grain is active.</summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking, Alias("MetaNode.Placement.OrchestratorPlacement")]
public sealed class OrchestratorPlacement : PlacementStrategy
{
    internal static readonly OrchestratorPlacement Instance = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class OrchestratorPlacementAttribute : PlacementAttribute
{
    public OrchestratorPlacementAttribute()
        : base(OrchestratorPlacement.Instance)
    {
    }
}

/// <summary>
/// Co-locates an orchestrator agent with its vPod, so that the silo hosting a leader's vPod also hosts its lease renewals and a
/// silo loss takes both. When the vPod is not active anywhere the agent goes to the calling silo.
/// </summary>
public sealed partial class OrchestratorPlacementDirector(IGrainFactory grainFactory, ILogger<OrchestratorPlacementDirector> logger) : IPlacementDirector
{
    private static readonly TimeSpan LookupTimeout = TimeSpan.FromSeconds(5);

    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target);
        var vpodId = target.GrainIdentity.Key.ToString()!;
        try
        {
            var management = grainFactory.GetGrain<IManagementGrain>(0);
            var host = await management.GetActivationAddress(grainFactory.GetGrain<IVPodGrain>(vpodId)).AsTask().WaitAsync(LookupTimeout).ConfigureAwait(false);
            if (host is not null && silos.Contains(host))
            {
                return host;
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogLookupFailed(logger, exception, vpodId);
        }

        return silos.Contains(context.LocalSilo) ? context.LocalSilo : silos[Random.Shared.Next(silos.Length)];
    }
}
