using MetaNode.Orchestration;

namespace MetaNode.Grains.Orchestration;

/// <summary>What a campaign for the lease led to.</summary>
public enum LeaseOutcome
{
    None = 0,
    /// <summary>The candidate became the holder under a new, higher term.</summary>
    Acquired = 1,
    /// <summary>The holder extended its lease under the same term.</summary>
    Renewed = 2,
    /// <summary>Another candidate holds a lease that has not expired: nothing changed.</summary>
    Held = 3,
}

public sealed record LeaseDecision(LeaseOutcome Outcome, LeaseSnapshot Lease);

/// <summary>
/// Leader election as pure functions over a lease snapshot. The lease grain decides with its own clock; when the recorded
/// expiry came from another clock (the grain was re-activated on another silo), a takeover waits an extra
/// <c>maxClockSkew</c>. A leader acts only until <see cref="ActsUntil"/>: its own send time plus the TTL minus the skew, so
/// it stops before any other candidate can be granted the lease, as long as clocks differ by at most the skew. Terms only grow.
/// </summary>
public static class LeaderElection
{
    /// <summary>The decision on <paramref name="candidate"/>'s campaign or renewal at <paramref name="now"/>.</summary>
    /// <param name="skewMargin">Zero when <paramref name="current"/>'s expiry was recorded with the same clock as <paramref name="now"/>; the bound on clock skew otherwise.</param>
    /// <param name="instance">The candidate's agent activation: only the instance that acquired the lease renews it.</param>
    public static LeaseDecision Decide(LeaseSnapshot current, string candidate, DateTimeOffset now, TimeSpan ttl, TimeSpan skewMargin, string? instance = null)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentException.ThrowIfNullOrEmpty(candidate);
        var isHolder = current.Holder == candidate && current.HolderInstance == instance;
        if (isHolder && now <= current.ExpiresAt)
        {
            return new LeaseDecision(LeaseOutcome.Renewed, current with { ExpiresAt = now + ttl, Ttl = ttl });
        }

        if (current.Holder is not null && !isHolder && now <= current.ExpiresAt + skewMargin)
        {
            return new LeaseDecision(LeaseOutcome.Held, current);
        }

        // Free, expired, or the holder itself came back too late: a new term, so whatever it did under the old one is fenced off.
        return new LeaseDecision(LeaseOutcome.Acquired, new LeaseSnapshot
        {
            Holder = candidate,
            HolderInstance = instance,
            Term = current.Term + 1,
            AcquiredAt = now,
            ExpiresAt = now + ttl,
            Ttl = ttl,
        });
    }

    /// <summary>
    /// A lease read back by a new activation of the lease grain. Renewals are not written, so the stored expiry may be older
    /// than the one the holder was last granted: a held lease is given a full <paramref name="ttl"/> from <paramref name="now"/>,
    /// never less than it had. A free lease is unchanged.
    /// </summary>
    public static LeaseSnapshot Recover(LeaseSnapshot stored, DateTimeOffset now, TimeSpan ttl)
    {
        ArgumentNullException.ThrowIfNull(stored);
        return stored.Holder is null || stored.ExpiresAt >= now + ttl ? stored : stored with { ExpiresAt = now + ttl };
    }

    /// <summary>The lease after <paramref name="candidate"/> gives up <paramref name="term"/>; unchanged unless it holds that term.</summary>
    public static LeaseSnapshot Release(LeaseSnapshot current, string candidate, long term, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(current);
        return current.Holder == candidate && current.Term == term
            ? current with { Holder = null, HolderInstance = null, HolderSilo = null, ExpiresAt = now }
            : current;
    }

    /// <summary>Until when a leader granted the lease for a request it sent at <paramref name="sentAt"/> (its own clock) may act.</summary>
    public static DateTimeOffset ActsUntil(DateTimeOffset sentAt, TimeSpan ttl, TimeSpan maxClockSkew) => sentAt + ttl - maxClockSkew;

    /// <summary>Whether a holder of <paramref name="lease"/> is the leader at <paramref name="now"/> as seen by the lease's clock.</summary>
    public static bool IsHeld(LeaseSnapshot lease, DateTimeOffset now) => lease.Holder is not null && now <= lease.ExpiresAt;
}
