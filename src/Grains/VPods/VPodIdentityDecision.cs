using MetaNode.VPods;

namespace MetaNode.Grains.VPods;

/// <summary>
/// What a proof of a vPod's key means for its record: the first proven address is admitted (trust on first use); a proof of the
/// admitted address confirms it; a proof of another address is recorded and shown, but not admitted until an operator says so.
/// </summary>
public static class VPodIdentityDecision
{
    /// <summary>The vPod types whose workloads hold a key.</summary>
    public static bool HoldsKey(VPodType type) => type is VPodType.Compute or VPodType.Validator;

    /// <summary>The admitted address after <paramref name="proved"/> was proved.</summary>
    public static string Admit(string? admitted, string proved) => admitted ?? proved;

    public static VPodIdentityState StateOf(VPodType type, string? admitted, string? proved) =>
        !HoldsKey(type) ? VPodIdentityState.None
        : admitted is null || proved is null ? VPodIdentityState.Unproven
        : string.Equals(admitted, proved, StringComparison.OrdinalIgnoreCase) ? VPodIdentityState.Proven
        : VPodIdentityState.Changed;
}
