using MetaNode.VPods;

namespace MetaNode.Grains.Clusters;

/// <summary>What reconciliation does to one member.</summary>
public enum MemberAction
{
    None = 0,
    /// <summary>Create the member's vPod (a new ordinal, or one that could not be placed before).</summary>
    Create = 1,
    /// <summary>Start a failed (or, with restart policy always, stopped) member again when nothing else has scheduled it.</summary>
    Start = 2,
    /// <summary>The member's vPod is gone: forget it (a new ordinal replaces it).</summary>
    Forget = 3,
    /// <summary>Scale down: delete the member's vPod.</summary>
    Delete = 4,
}

/// <summary>A member as reconciliation sees it. <see cref="Phase"/> is null when its vPod does not exist.</summary>
public sealed record MemberObservation(int Ordinal, bool Created, VPodPhase? Phase, bool RestartScheduled);

public sealed record PlannedAction(MemberAction Action, int Ordinal, string Reason);

/// <summary>Desired vs. actual members as a pure function; the cluster grain applies the plan.</summary>
public static class ClusterPlanner
{
    public static IReadOnlyList<PlannedAction> Plan(int desired, IReadOnlyList<MemberObservation> members, RestartPolicy policy, int nextOrdinal)
    {
        ArgumentNullException.ThrowIfNull(members);
        var actions = new List<PlannedAction>();
        var live = new List<MemberObservation>();
        foreach (var member in members.OrderBy(m => m.Ordinal))
        {
            if (member.Created && member.Phase is null or VPodPhase.Deleted or VPodPhase.Deleting)
            {
                actions.Add(new PlannedAction(MemberAction.Forget, member.Ordinal, "its vPod is gone; a new member replaces it"));
            }
            else
            {
                live.Add(member);
            }
        }

        // Scale down from the newest members: members not placed yet go first.
        var extra = live.Count - desired;
        foreach (var member in live.OrderBy(m => m.Created).ThenByDescending(m => m.Ordinal).Take(Math.Max(0, extra)).ToList())
        {
            actions.Add(new PlannedAction(member.Created ? MemberAction.Delete : MemberAction.Forget, member.Ordinal, "scaled down"));
            live.Remove(member);
        }

        for (var i = live.Count; i < desired; i++)
        {
            actions.Add(new PlannedAction(MemberAction.Create, nextOrdinal++, "new member"));
        }

        foreach (var member in live)
        {
            if (!member.Created)
            {
                actions.Add(new PlannedAction(MemberAction.Create, member.Ordinal, "retrying placement"));
            }
            else if (member.Phase == VPodPhase.Failed && !member.RestartScheduled && policy is RestartPolicy.OnFailure or RestartPolicy.Always)
            {
                actions.Add(new PlannedAction(MemberAction.Start, member.Ordinal, $"failed and its restart policy is {policy}"));
            }
            else if (member.Phase == VPodPhase.Stopped && !member.RestartScheduled && policy == RestartPolicy.Always)
            {
                actions.Add(new PlannedAction(MemberAction.Start, member.Ordinal, "stopped and its restart policy is Always"));
            }
        }

        return actions;
    }
}
