using MetaNode.VPods;

namespace MetaNode.Clusters;

[GenerateSerializer, Alias("MetaNode.Clusters.ClusterPhase")]
public enum ClusterPhase
{
    None = 0,
    /// <summary>Members are being created or are not all running yet.</summary>
    Deploying = 1,
    /// <summary>Every desired member is running.</summary>
    Ready = 2,
    /// <summary>Some desired members failed or cannot be placed.</summary>
    Degraded = 3,
    Deleting = 4,
    Deleted = 5,
}

/// <summary>One member of a cluster as <c>cluster status</c> shows it.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Clusters.ClusterMemberStatus")]
public sealed record ClusterMemberStatus
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required string Name { get; init; }
    [Id(2)] public int Ordinal { get; init; }
    /// <summary><see cref="VPodPhase.Pending"/> with a <see cref="Reason"/> when the member fits on no silo yet.</summary>
    [Id(3)] public VPodPhase Phase { get; init; }
    [Id(4)] public VPodHealth Health { get; init; }
    [Id(5)] public int RestartCount { get; init; }
    [Id(6)] public string? Reason { get; init; }
    /// <summary>The silo the member's grain is active on (where its workload runs), when known.</summary>
    [Id(7)] public string? Silo { get; init; }
    [Id(8)] public bool IsLeader { get; init; }
}

/// <summary>A change of leader, kept in the lease's history and published on the leader stream.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Clusters.LeaderChange")]
public sealed record LeaderChange
{
    /// <summary>Unique per change (the scope and term), so stream consumers de-duplicate.</summary>
    [Id(0)] public required string EventId { get; init; }
    [Id(1)] public required string Scope { get; init; }
    [Id(2)] public string? Leader { get; init; }
    [Id(3)] public string? PreviousLeader { get; init; }
    [Id(4)] public long Term { get; init; }
    [Id(5)] public DateTimeOffset At { get; init; }
    [Id(6)] public string? Reason { get; init; }
}

/// <summary>What <c>cluster status</c> shows: desired, running and failed counts, each member, and the leader with its term.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Clusters.ClusterStatus")]
public sealed record ClusterStatus
{
    [Id(0)] public required string Name { get; init; }
    [Id(1)] public ClusterPhase Phase { get; init; }
    [Id(2)] public ClusterSpec? Spec { get; init; }
    [Id(3)] public int Desired { get; init; }
    [Id(4)] public int Running { get; init; }
    [Id(5)] public int Failed { get; init; }
    [Id(6)] public int Pending { get; init; }
    [Id(7)] public IReadOnlyList<ClusterMemberStatus> Members { get; init; } = [];
    /// <summary>The vPod id of the orchestrator holding the lease, if any.</summary>
    [Id(8)] public string? Leader { get; init; }
    [Id(9)] public long Term { get; init; }
    [Id(10)] public DateTimeOffset? LeaseExpiresAt { get; init; }
    [Id(11)] public IReadOnlyList<LeaderChange> LeaderChanges { get; init; } = [];
    [Id(12)] public DateTimeOffset CreatedAt { get; init; }
    [Id(13)] public DateTimeOffset UpdatedAt { get; init; }
    /// <summary>The highest leader term the cluster has accepted a command from (its fencing token).</summary>
    [Id(14)] public long FencingTerm { get; init; }
    [Id(15)] public DateTimeOffset? LastReconciledAt { get; init; }
    /// <summary>The silo the leader's election agent (and so its vPod) runs on.</summary>
    [Id(16)] public string? LeaderSilo { get; init; }
}

/// <summary>A row of <c>cluster list</c>.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Clusters.ClusterSummary")]
public sealed record ClusterSummary
{
    [Id(0)] public required string Name { get; init; }
    [Id(1)] public VPodType MemberType { get; init; }
    [Id(2)] public int Desired { get; init; }
    [Id(3)] public ClusterPhase Phase { get; init; }
    [Id(4)] public DateTimeOffset CreatedAt { get; init; }
    [Id(5)] public DeploymentMethod DeploymentMethod { get; init; }
}

/// <summary>A command from a cluster's leader: carries the leader's term so older leaders are fenced off.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Clusters.LeaderCommand")]
public sealed record LeaderCommand(
    [property: Id(0)] string Leader,
    [property: Id(1)] long Term);
