using MetaNode.Grains.Runtime;
using MetaNode.VPods;

namespace MetaNode.Grains.VPods;

/// <summary>What a vPod's record looks like to its callers (<see cref="VPodStatus"/>) and to the registry (<see cref="VPodSummary"/>).</summary>
internal static class VPodStatusMapping
{
    /// <summary>
    /// The status of vPod <paramref name="id"/>. <paramref name="identityError"/> is why its last identity challenge failed;
    /// <paramref name="limitsNotEnforced"/> is from <see cref="LimitsNotEnforced"/>.
    /// </summary>
    public static VPodStatus ToStatus(string id, VPodSpec spec, VPodState state, string? identityError, string? limitsNotEnforced) => new()
    {
        Id = id,
        Name = spec.Name,
        Type = spec.Type,
        DeploymentMethod = spec.DeploymentMethod,
        Phase = state.Phase,
        Health = state.Health,
        RestartCount = state.RestartCount,
        Handle = state.Handle,
        CreatedAt = state.CreatedAt,
        StartedAt = state.StartedAt,
        UpdatedAt = state.UpdatedAt,
        LastExitCode = state.LastExitCode,
        Reason = state.Reason,
        Transitions = state.Transitions.ToArray(),
        Endpoint = state.Handle?.Endpoint,
        Spec = spec,
        NextRestartAt = state.NextRestartAt,
        Address = state.Address,
        OomKilled = state.OomKilled,
        Identity = VPodIdentityDecision.StateOf(spec.Type, state.Address, state.ProvedAddress),
        ProvedAddress = state.ProvedAddress,
        ProvedAt = state.ProvedAt,
        IdentityError = identityError,
        LimitsNotEnforced = limitsNotEnforced,
    };

    /// <summary>The registry's row for vPod <paramref name="id"/>.</summary>
    public static VPodSummary ToSummary(string id, VPodSpec spec, VPodState state) => new()
    {
        Id = id,
        Name = spec.Name,
        Type = spec.Type,
        DeploymentMethod = spec.DeploymentMethod,
        Phase = state.Phase,
        Health = state.Health,
        RestartCount = state.RestartCount,
        CreatedAt = state.CreatedAt,
        UpdatedAt = state.UpdatedAt,
        ShouldRun = state.DesiredRunning || state.NextRestartAt is not null || VPodStateMachine.IsTransitional(state.Phase),
    };

    /// <summary>
    /// Which resource limits the runtime for <paramref name="method"/> does not enforce (null when it enforces them all); when
    /// the silo hosting the vPod has no runtime for that method, the message saying so.
    /// </summary>
    public static string? LimitsNotEnforced(IVPodRuntimeResolver runtimes, DeploymentMethod method)
    {
        try
        {
            return runtimes.Resolve(method).LimitsNotEnforced;
        }
        catch (InvalidVPodSpecException ex)
        {
            return ex.Message;
        }
    }
}
