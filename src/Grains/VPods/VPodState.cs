using MetaNode.VPods;

namespace MetaNode.Grains.VPods;

/// <summary>The persisted record of one vPod.</summary>
[GenerateSerializer, Alias("MetaNode.VPods.VPodState")]
public sealed class VPodState
{
    [Id(0)] public VPodSpec? Spec { get; set; }
    [Id(1)] public VPodPhase Phase { get; set; }
    [Id(2)] public VPodHealth Health { get; set; }
    [Id(3)] public RuntimeHandle? Handle { get; set; }
    [Id(4)] public int RestartCount { get; set; }
    /// <summary>Failures since the workload last ran for <see cref="VPodOptions.BackoffResetAfter"/>; drives the backoff.</summary>
    [Id(5)] public int ConsecutiveFailures { get; set; }
    [Id(6)] public DateTimeOffset CreatedAt { get; set; }
    [Id(7)] public DateTimeOffset? StartedAt { get; set; }
    [Id(8)] public DateTimeOffset UpdatedAt { get; set; }
    [Id(9)] public int? LastExitCode { get; set; }
    [Id(10)] public string? Reason { get; set; }
    [Id(11)] public List<VPodTransition> Transitions { get; set; } = [];
    /// <summary>Whether the user wants the workload running (set by create/start/restart, cleared by stop/delete).</summary>
    [Id(12)] public bool DesiredRunning { get; set; }
    /// <summary>When the restart policy will start the workload again.</summary>
    [Id(13)] public DateTimeOffset? NextRestartAt { get; set; }
    /// <summary>Set when the silo shut down gracefully under a running workload: the next activation resumes it without counting a failure.</summary>
    [Id(14)] public bool Interrupted { get; set; }
    /// <summary>Whether the runtime has provisioned the vPod (directories, image, container object).</summary>
    [Id(15)] public bool Provisioned { get; set; }
    // Id 16 held the vPod's encrypted key: keys now live only in the workload, the record keeps addresses.
    /// <summary>Whether the workload's last exit was an out-of-memory kill.</summary>
    [Id(17)] public bool OomKilled { get; set; }
    /// <summary>The admitted address of the workload's key (compute and validator vPods).</summary>
    [Id(18)] public string? Address { get; set; }
    /// <summary>The address the workload proved last, and when.</summary>
    [Id(19)] public string? ProvedAddress { get; set; }
    [Id(20)] public DateTimeOffset? ProvedAt { get; set; }
}
