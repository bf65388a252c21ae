using Orleans.Placement;

namespace MetaNode.Grains.Placement;

/// <summary>Places vPods on a silo with room for their cpu and memory (see <see cref="VPodPlacementDirector"/>).</summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking, Alias("MetaNode.Placement.VPodPlacement")]
public sealed class VPodPlacement : PlacementStrategy
{
    internal static readonly VPodPlacement Instance = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class VPodPlacementAttribute : PlacementAttribute
{
    public VPodPlacementAttribute()
        : base(VPodPlacement.Instance)
    {
    }
}
