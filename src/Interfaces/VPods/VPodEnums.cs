namespace MetaNode.VPods;

/// <summary>The four vPod types of the seed.</summary>
[GenerateSerializer, Alias("MetaNode.VPods.VPodType")]
public enum VPodType
{
    None = 0,
    Compute = 1,
    Validator = 2,
    Storage = 3,
    Orchestrator = 4,
}

/// <summary>Where a vPod's workload runs.</summary>
[GenerateSerializer, Alias("MetaNode.VPods.DeploymentMethod")]
public enum DeploymentMethod
{
    None = 0,
    Process = 1,
    Docker = 2,
    Kubernetes = 3,
}

/// <summary>What the grain does when the workload exits or fails its health checks.</summary>
[GenerateSerializer, Alias("MetaNode.VPods.RestartPolicy")]
public enum RestartPolicy
{
    None = 0,
    Never = 1,
    OnFailure = 2,
    Always = 3,
}

/// <summary>The phases of the vPod state machine.</summary>
[GenerateSerializer, Alias("MetaNode.VPods.VPodPhase")]
public enum VPodPhase
{
    None = 0,
    Pending = 1,
    Provisioning = 2,
    Starting = 3,
    Running = 4,
    Degraded = 5,
    Stopping = 6,
    Stopped = 7,
    Restarting = 8,
    Failed = 9,
    Deleting = 10,
    Deleted = 11,
}

/// <summary>The health the probes last saw.</summary>
[GenerateSerializer, Alias("MetaNode.VPods.VPodHealth")]
public enum VPodHealth
{
    Unknown = 0,
    Healthy = 1,
    Degraded = 2,
    Unhealthy = 3,
}

/// <summary>Everything that can move a vPod between phases: user operations and runtime observations.</summary>
[GenerateSerializer, Alias("MetaNode.VPods.VPodTrigger")]
public enum VPodTrigger
{
    None = 0,

    // Operations a user asks for.
    Create = 1,
    Start = 2,
    Stop = 3,
    Restart = 4,
    Delete = 5,

    // Observations and completions the grain feeds in.
    Provisioned = 20,
    ProvisionFailed = 21,
    Launched = 22,
    ProbeHealthy = 23,
    ProbeDegraded = 24,
    ProbeUnhealthy = 25,
    Exited = 26,
    Lost = 27,
    StopCompleted = 28,
    DeleteCompleted = 29,
    BackoffElapsed = 30,
    Completed = 31,
}
