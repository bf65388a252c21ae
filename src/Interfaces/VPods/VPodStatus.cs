namespace MetaNode.VPods;

/// <summary>Where a runtime placed a vPod's workload: enough to find it again after a silo restart.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.VPods.RuntimeHandle")]
public sealed record RuntimeHandle(
    [property: Id(0)] DeploymentMethod Method,
    [property: Id(1)] string Id,
    [property: Id(2)] string Node,
    [property: Id(3)] DateTimeOffset StartedAt,
    [property: Id(4)] string? Owner = null,
    [property: Id(5)] long StartMarker = 0,
    [property: Id(6)] string? Endpoint = null)
{
    public override string ToString() => $"{Method.ToString().ToLowerInvariant()}://{Node}/{Id}";
}

/// <summary>One recorded phase change.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.VPods.VPodTransition")]
public sealed record VPodTransition(
    [property: Id(0)] VPodPhase From,
    [property: Id(1)] VPodPhase To,
    [property: Id(2)] VPodTrigger Trigger,
    [property: Id(3)] string Reason,
    [property: Id(4)] DateTimeOffset At);

/// <summary>What <c>vpod status</c> shows.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.VPods.VPodStatus")]
public sealed record VPodStatus
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required string Name { get; init; }
    [Id(2)] public VPodType Type { get; init; }
    [Id(3)] public DeploymentMethod DeploymentMethod { get; init; }
    [Id(4)] public VPodPhase Phase { get; init; }
    [Id(5)] public VPodHealth Health { get; init; }
    [Id(6)] public int RestartCount { get; init; }
    [Id(7)] public RuntimeHandle? Handle { get; init; }
    [Id(8)] public DateTimeOffset CreatedAt { get; init; }
    [Id(9)] public DateTimeOffset? StartedAt { get; init; }
    [Id(10)] public DateTimeOffset UpdatedAt { get; init; }
    [Id(11)] public int? LastExitCode { get; init; }
    [Id(12)] public string? Reason { get; init; }
    [Id(13)] public IReadOnlyList<VPodTransition> Transitions { get; init; } = [];
    [Id(14)] public string? Endpoint { get; init; }
    [Id(15)] public VPodSpec? Spec { get; init; }
    [Id(16)] public DateTimeOffset? NextRestartAt { get; init; }
    /// <summary>The vPod's own chain account (compute and validator vPods), when it has one.</summary>
    [Id(17)] public string? Address { get; init; }
    /// <summary>True when the workload's last exit was an out-of-memory kill.</summary>
    [Id(18)] public bool OomKilled { get; init; }
}

/// <summary>A row of <c>vpod list</c>, kept by the registry.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.VPods.VPodSummary")]
public sealed record VPodSummary
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required string Name { get; init; }
    [Id(2)] public VPodType Type { get; init; }
    [Id(3)] public DeploymentMethod DeploymentMethod { get; init; }
    [Id(4)] public VPodPhase Phase { get; init; }
    [Id(5)] public VPodHealth Health { get; init; }
    [Id(6)] public int RestartCount { get; init; }
    [Id(7)] public DateTimeOffset CreatedAt { get; init; }
    [Id(8)] public DateTimeOffset UpdatedAt { get; init; }
    /// <summary>True when the vPod should have a running workload (the silo reconciles these on start).</summary>
    [Id(9)] public bool ShouldRun { get; init; }
}

/// <summary>How to stop a vPod.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.VPods.StopOptions")]
public sealed record StopOptions(
    [property: Id(0)] bool Force = false,
    [property: Id(1)] int TimeoutSeconds = 10);
