using MetaNode.VPods;

namespace MetaNode.Grains.VPods;

// Identity: the workload of a compute or validator vPod proves the key it holds; the first proven address is admitted.
public sealed partial class VPodGrain
{
    // The launch whose workload proved its identity (or failed to) in this activation, and why the last challenge failed.
    private DateTimeOffset? _identityCheckedAt;
    private string? _identityError;

    public async Task<VPodStatus> VerifyIdentityAsync(CancellationToken cancellationToken = default)
    {
        EnsureExists();
        if (!VPodIdentityDecision.HoldsKey(Spec.Type))
        {
            throw new VPodIdentityException(Id, $"vPod '{Id}' is a {Spec.Type.ToString().ToLowerInvariant()} vPod: only compute and validator vPods hold a key.");
        }

        if (!VPodStateMachine.HasWorkload(State.Phase))
        {
            throw new VPodIdentityException(Id, $"vPod '{Id}' is {State.Phase}: start it so its workload can prove its identity.");
        }

        await ProveIdentityAsync(State.Handle?.Endpoint, cancellationToken);
        return ToStatus();
    }

    public async Task<VPodStatus> AdmitAddressAsync(string address, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        EnsureExists();
        if (State.ProvedAddress is not { } proved || !string.Equals(proved, address, StringComparison.OrdinalIgnoreCase))
        {
            throw new VPodIdentityException(Id, $"vPod '{Id}' has not proved address {address}{(State.ProvedAddress is { } last ? $" (it last proved {last})" : string.Empty)}: only an address its workload proved can be admitted.");
        }

        if (!string.Equals(State.Address, proved, StringComparison.OrdinalIgnoreCase))
        {
            LogAdmitted(logger, Id, State.Address ?? "-", proved);
            State.Address = proved;
            await PersistAsync(cancellationToken);
        }

        return ToStatus();
    }

    /// <summary>Challenges the workload and records the address it proved (the first one is admitted); a failure is recorded and rethrown.</summary>
    private async Task ProveIdentityAsync(string? endpoint, CancellationToken cancellationToken)
    {
        string proved;
        try
        {
            proved = await identity.ProveAsync(Id, endpoint, cancellationToken);
        }
        catch (VPodIdentityException exception)
        {
            _identityError = exception.Message;
            _tagged = null;
            throw;
        }

        _identityError = null;
        _identityCheckedAt = State.StartedAt;
        var admitted = VPodIdentityDecision.Admit(State.Address, proved);
        var changed = !string.Equals(State.ProvedAddress, proved, StringComparison.Ordinal) || !string.Equals(State.Address, admitted, StringComparison.Ordinal);
        State.ProvedAt = time.GetUtcNow();
        if (changed)
        {
            State.ProvedAddress = proved;
            State.Address = admitted;
            if (VPodIdentityDecision.StateOf(Spec.Type, admitted, proved) == VPodIdentityState.Changed)
            {
                LogAddressChanged(logger, Id, admitted, proved);
            }

            await PersistAsync(cancellationToken);
        }
        else
        {
            _tagged = null;
        }
    }

    /// <summary>Once per launch, after a passed health probe: the workload proves the key it holds (a restarted or re-adopted workload keeps its key).</summary>
    private async Task ProveOncePerLaunchAsync(string endpoint, CancellationToken cancellationToken)
    {
        if (!VPodIdentityDecision.HoldsKey(Spec.Type) || _identityCheckedAt == State.StartedAt)
        {
            return;
        }

        _identityCheckedAt = State.StartedAt;
        try
        {
            await ProveIdentityAsync(endpoint, cancellationToken);
        }
        catch (VPodIdentityException exception)
        {
            LogIdentityFailed(logger, Id, exception.Message);
        }
    }
}
