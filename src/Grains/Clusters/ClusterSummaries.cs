using System.Globalization;
using MetaNode.Clusters;
using MetaNode.VPods;

namespace MetaNode.Grains.Clusters;

/// <summary>A cluster's aggregate phase and its row of <c>cluster list</c>, from its members' phases: pure functions.</summary>
public static class ClusterSummaries
{
    /// <summary>
    /// The phase <c>cluster status</c> and <c>cluster list</c> show: Ready when every desired member runs, Degraded when one
    /// failed or could not be placed (<paramref name="unplaced"/>), Deploying otherwise; a cluster being deleted stays Deleting.
    /// </summary>
    /// <param name="recorded">The phase the cluster recorded (only Deleting overrides its members).</param>
    /// <param name="memberPhases">Every member's phase, a member not placed yet being Pending.</param>
    public static ClusterPhase PhaseOf(ClusterPhase recorded, int desired, IReadOnlyCollection<VPodPhase> memberPhases, int unplaced)
    {
        ArgumentNullException.ThrowIfNull(memberPhases);
        var running = memberPhases.Count(p => p == VPodPhase.Running);
        var failed = memberPhases.Count(p => p == VPodPhase.Failed);
        return recorded is ClusterPhase.Deleting ? ClusterPhase.Deleting
            : running == desired && memberPhases.Count == desired ? ClusterPhase.Ready
            : failed > 0 || unplaced > 0 ? ClusterPhase.Degraded
            : ClusterPhase.Deploying;
    }

    /// <summary>The cluster's row of <c>cluster list</c> in <paramref name="phase"/>.</summary>
    public static ClusterSummary Summary(string name, ClusterSpec spec, VPodClusterState state, ClusterPhase phase)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(state);
        return new ClusterSummary
        {
            Name = name,
            MemberType = spec.MemberType,
            DeploymentMethod = spec.DeploymentMethod,
            Desired = state.Desired,
            Phase = phase,
            CreatedAt = state.CreatedAt,
        };
    }

    /// <summary>
    /// The cluster a vPod is a member of, from its id and name (<c>vpod-{cluster}-{ordinal}</c> and <c>{cluster}-{ordinal}</c>),
    /// or null when they are not a member's. The cluster still decides whether it has that member.
    /// </summary>
    public static string? ClusterOf(string vpodId, string vpodName)
    {
        ArgumentNullException.ThrowIfNull(vpodId);
        ArgumentNullException.ThrowIfNull(vpodName);
        var dash = vpodName.LastIndexOf('-');
        if (dash <= 0)
        {
            return null;
        }

        var cluster = vpodName[..dash];
        return ClusterSpecValidation.IsValidName(cluster)
            && int.TryParse(vpodName.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var ordinal)
            && vpodId == ClusterSpecValidation.MemberId(cluster, ordinal)
            ? cluster
            : null;
    }
}
