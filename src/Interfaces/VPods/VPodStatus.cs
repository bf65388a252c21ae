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
    /// <summary>The admitted address of the vPod's own key (compute and validator vPods), as its workload proved it; the key never leaves the workload.</summary>
    [Id(17)] public string? Address { get; init; }
    /// <summary>True when the workload's last exit was an out-of-memory kill.</summary>
    [Id(18)] public bool OomKilled { get; init; }
    /// <summary>Whether the workload proved the admitted address (see <see cref="VPodIdentityState"/>).</summary>
    [Id(19)] public VPodIdentityState Identity { get; init; }
    /// <summary>The address the workload proved last; differs from <see cref="Address"/> when <see cref="Identity"/> is <see cref="VPodIdentityState.Changed"/>.</summary>
    [Id(20)] public string? ProvedAddress { get; init; }
    [Id(21)] public DateTimeOffset? ProvedAt { get; init; }
    /// <summary>Why the last identity challenge failed, if it did.</summary>
    [Id(22)] public string? IdentityError { get; init; }
    /// <summary>Why the runtime does not enforce the spec's cpu and memory on this vPod (e.g. a silo that cannot isolate process workloads); null when it does.</summary>
    [Id(23)] public string? LimitsNotEnforced { get; init; }
}

/// <summary>
/// A vPod's status and the tag its silo gave it (<see cref="IVPodGrain.GetStatusIfChangedAsync"/>): a tag names one status, field
/// for field, so a caller holding the status under a tag need not be sent it again. Tags are random: equal tags never name
/// different statuses, and a status rebuilt with the same fields may get a new one.
/// </summary>
[GenerateSerializer, Immutable, Alias("MetaNode.VPods.TaggedVPodStatus")]
public sealed record TaggedVPodStatus(
    [property: Id(0)] Guid Tag,
    [property: Id(1)] VPodStatus Status);

/// <summary>Where a vPod's key stands, as the silo knows it (addresses only; the key lives in the workload).</summary>
[GenerateSerializer, Alias("MetaNode.VPods.VPodIdentityState")]
public enum VPodIdentityState
{
    /// <summary>The vPod type has no key (e.g. orchestrator vPods).</summary>
    None = 0,

    /// <summary>The workload has not proved a key yet (not started, or it does not speak the workload protocol).</summary>
    Unproven = 1,

    /// <summary>The workload proved the admitted address.</summary>
    Proven = 2,

    /// <summary>The workload proved another address than the admitted one: kept out of jobs and validator sets until an operator admits it.</summary>
    Changed = 3,
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
