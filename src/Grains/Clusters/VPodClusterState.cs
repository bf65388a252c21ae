using MetaNode.Clusters;

namespace MetaNode.Grains.Clusters;

/// <summary>One member slot of a cluster: its ordinal (which gives its vPod id) and whether its vPod was created.</summary>
[GenerateSerializer, Alias("MetaNode.Clusters.ClusterMemberRecord")]
public sealed class ClusterMemberRecord
{
    [Id(0)] public int Ordinal { get; set; }
    [Id(1)] public bool Created { get; set; }
    /// <summary>Why the member's vPod could not be created yet (it fits on no silo, its name is taken, ...).</summary>
    [Id(2)] public string? PendingReason { get; set; }
}

/// <summary>The persisted record of one cluster. Ordinals are never reused, so a member id always means one vPod.</summary>
[GenerateSerializer, Alias("MetaNode.Clusters.VPodClusterState")]
public sealed class VPodClusterState
{
    [Id(0)] public ClusterSpec? Spec { get; set; }
    [Id(1)] public ClusterPhase Phase { get; set; }
    [Id(2)] public int Desired { get; set; }
    [Id(3)] public int NextOrdinal { get; set; }
    [Id(4)] public List<ClusterMemberRecord> Members { get; set; } = [];
    /// <summary>The highest leader term a command was accepted from: older terms are rejected.</summary>
    [Id(5)] public long FencingTerm { get; set; }
    [Id(6)] public string? FencingLeader { get; set; }
    [Id(7)] public DateTimeOffset CreatedAt { get; set; }
    [Id(8)] public DateTimeOffset UpdatedAt { get; set; }
    [Id(9)] public DateTimeOffset? LastReconciledAt { get; set; }
}
