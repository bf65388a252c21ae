using MetaNode.Grains.Orchestration;
using MetaNode.Orchestration;

namespace MetaNode.Tests.Clusters;

/// <summary>The election decision as a pure function: campaigns, renewals, expiry, release, clock skew, terms that only grow.</summary>
public sealed class LeaderElectionTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Skew = TimeSpan.FromMilliseconds(500);
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Recover_GivesAHeldLeaseAFullTtl_AndLeavesAFreeOrLongerLeaseAlone()
    {
        // Acquired at T0, renewed in memory until T0+8s, then the lease grain moved: the stored expiry (T0+5s) is stale.
        var stored = LeaderElection.Decide(new LeaseSnapshot(), "vpod-a", T0, Ttl, TimeSpan.Zero).Lease;
        var now = T0 + TimeSpan.FromSeconds(8);
        var recovered = LeaderElection.Recover(stored, now, Ttl);
        Assert.Equal(now + Ttl, recovered.ExpiresAt);
        Assert.Equal((stored.Holder, stored.Term, stored.HolderInstance), (recovered.Holder, recovered.Term, recovered.HolderInstance));

        // Another candidate is refused until the full TTL (and the skew) has passed; then it gets the next term.
        Assert.Equal(LeaseOutcome.Held, LeaderElection.Decide(recovered, "vpod-b", now + Ttl, Ttl, Skew).Outcome);
        var taken = LeaderElection.Decide(recovered, "vpod-b", now + Ttl + Skew + TimeSpan.FromMilliseconds(1), Ttl, Skew);
        Assert.Equal((LeaseOutcome.Acquired, 2L), (taken.Outcome, taken.Lease.Term));

        Assert.Equal(new LeaseSnapshot(), LeaderElection.Recover(new LeaseSnapshot(), now, Ttl));
        var longer = stored with { ExpiresAt = now + Ttl + Ttl };
        Assert.Equal(longer, LeaderElection.Recover(longer, now, Ttl));
    }

    [Fact]
    public void Decide_GrantsTermOne_WhenTheLeaseWasNeverHeld()
    {
        var decision = LeaderElection.Decide(new LeaseSnapshot(), "vpod-a", T0, Ttl, TimeSpan.Zero);
        Assert.Equal(LeaseOutcome.Acquired, decision.Outcome);
        Assert.Equal(("vpod-a", 1L, T0 + Ttl), (decision.Lease.Holder, decision.Lease.Term, decision.Lease.ExpiresAt));
    }

    [Fact]
    public void Decide_GrantsExactlyOne_WhenTwoCandidatesCampaignAtTheSameInstant()
    {
        var first = LeaderElection.Decide(new LeaseSnapshot(), "vpod-a", T0, Ttl, TimeSpan.Zero);
        var second = LeaderElection.Decide(first.Lease, "vpod-b", T0, Ttl, TimeSpan.Zero);
        Assert.Equal(LeaseOutcome.Acquired, first.Outcome);
        Assert.Equal(LeaseOutcome.Held, second.Outcome);
        Assert.Equal(first.Lease, second.Lease);

        // The other order gives the other winner, still exactly one and still term 1.
        var other = LeaderElection.Decide(new LeaseSnapshot(), "vpod-b", T0, Ttl, TimeSpan.Zero);
        Assert.Equal(LeaseOutcome.Held, LeaderElection.Decide(other.Lease, "vpod-a", T0, Ttl, TimeSpan.Zero).Outcome);
        Assert.Equal(1, other.Lease.Term);
    }

    [Fact]
    public void Decide_RenewsUnderTheSameTerm_WhenTheHolderRenewsInTime()
    {
        var lease = LeaderElection.Decide(new LeaseSnapshot(), "vpod-a", T0, Ttl, TimeSpan.Zero).Lease;
        var renewed = LeaderElection.Decide(lease, "vpod-a", T0 + Ttl, Ttl, TimeSpan.Zero);
        Assert.Equal(LeaseOutcome.Renewed, renewed.Outcome);
        Assert.Equal(1, renewed.Lease.Term);
        Assert.Equal(T0 + Ttl + Ttl, renewed.Lease.ExpiresAt);
    }

    [Fact]
    public void Decide_GivesTheLeaseToAnotherWithAHigherTerm_WhenRenewalsAreDelayedPastTheTtl()
    {
        var lease = LeaderElection.Decide(new LeaseSnapshot(), "vpod-a", T0, Ttl, TimeSpan.Zero).Lease;
        Assert.Equal(LeaseOutcome.Held, LeaderElection.Decide(lease, "vpod-b", T0 + Ttl, Ttl, TimeSpan.Zero).Outcome);

        var takeover = LeaderElection.Decide(lease, "vpod-b", T0 + Ttl + TimeSpan.FromMilliseconds(1), Ttl, TimeSpan.Zero);
        Assert.Equal(LeaseOutcome.Acquired, takeover.Outcome);
        Assert.Equal(("vpod-b", 2L), (takeover.Lease.Holder, takeover.Lease.Term));

        // The old holder's late renewal does not take the lease back.
        var late = LeaderElection.Decide(takeover.Lease, "vpod-a", T0 + Ttl + TimeSpan.FromSeconds(1), Ttl, TimeSpan.Zero);
        Assert.Equal(LeaseOutcome.Held, late.Outcome);
        Assert.Equal(2, late.Lease.Term);
    }

    [Fact]
    public void Decide_TreatsTheSameVPodFromAnotherAgentAsANewCandidate_WhenItsAgentMovedSilos()
    {
        var lease = LeaderElection.Decide(new LeaseSnapshot(), "vpod-a", T0, Ttl, TimeSpan.Zero, instance: "agent-1").Lease;
        Assert.Equal(LeaseOutcome.Renewed, LeaderElection.Decide(lease, "vpod-a", T0 + Ttl, Ttl, TimeSpan.Zero, instance: "agent-1").Outcome);
        Assert.Equal(LeaseOutcome.Held, LeaderElection.Decide(lease, "vpod-a", T0 + Ttl, Ttl, TimeSpan.Zero, instance: "agent-2").Outcome);

        var moved = LeaderElection.Decide(lease, "vpod-a", T0 + Ttl + TimeSpan.FromMilliseconds(1), Ttl, TimeSpan.Zero, instance: "agent-2");
        Assert.Equal(LeaseOutcome.Acquired, moved.Outcome);
        Assert.Equal(("agent-2", 2L), (moved.Lease.HolderInstance, moved.Lease.Term));
    }

    [Fact]
    public void Decide_StartsANewTerm_WhenTheHolderItselfRenewsAfterExpiry()
    {
        var lease = LeaderElection.Decide(new LeaseSnapshot(), "vpod-a", T0, Ttl, TimeSpan.Zero).Lease;
        var late = LeaderElection.Decide(lease, "vpod-a", T0 + Ttl + TimeSpan.FromSeconds(1), Ttl, TimeSpan.Zero);
        Assert.Equal(LeaseOutcome.Acquired, late.Outcome);
        Assert.Equal(2, late.Lease.Term);
    }

    [Fact]
    public void Decide_WaitsTheSkewMarginBeforeATakeover_WhenTheExpiryCameFromAnotherClock()
    {
        var lease = LeaderElection.Decide(new LeaseSnapshot(), "vpod-a", T0, Ttl, TimeSpan.Zero).Lease;
        var withinSkew = T0 + Ttl + Skew / 2;
        Assert.Equal(LeaseOutcome.Held, LeaderElection.Decide(lease, "vpod-b", withinSkew, Ttl, Skew).Outcome);
        Assert.Equal(LeaseOutcome.Acquired, LeaderElection.Decide(lease, "vpod-b", withinSkew, Ttl, TimeSpan.Zero).Outcome);
        Assert.Equal(LeaseOutcome.Acquired, LeaderElection.Decide(lease, "vpod-b", T0 + Ttl + Skew + TimeSpan.FromMilliseconds(1), Ttl, Skew).Outcome);
    }

    [Theory]
    [InlineData(-500, -500)]
    [InlineData(-500, 0)]
    [InlineData(0, 500)]
    [InlineData(500, 0)]
    [InlineData(500, 500)]
    [InlineData(250, -250)]
    public void ActsUntil_EndsBeforeAnyTakeover_WhenClocksDifferByAtMostTheSkew(int recordingClockMs, int decidingClockMs)
    {
        // Real time is the leader's clock. The lease grain that recorded the expiry read its clock at recordingClock ahead of
        // it; the one deciding a takeover (perhaps re-activated on another silo) runs decidingClock ahead.
        var sentAt = T0;
        var recording = TimeSpan.FromMilliseconds(recordingClockMs);
        var deciding = TimeSpan.FromMilliseconds(decidingClockMs);
        var margin = recording == deciding ? TimeSpan.Zero : Skew;
        var lease = LeaderElection.Decide(new LeaseSnapshot(), "vpod-a", sentAt + recording, Ttl, TimeSpan.Zero).Lease;
        var leaderStops = LeaderElection.ActsUntil(sentAt, Ttl, Skew);

        // Find the first real millisecond at which another candidate is granted the lease.
        var t = sentAt;
        while (LeaderElection.Decide(lease, "vpod-b", t + deciding, Ttl, margin).Outcome != LeaseOutcome.Acquired)
        {
            t += TimeSpan.FromMilliseconds(1);
        }

        Assert.True(leaderStops < t, $"leader acts until {leaderStops:O}, another is granted the lease at {t:O}");
        Assert.True(t - sentAt <= Ttl + Skew + Skew + TimeSpan.FromMilliseconds(1), $"takeover after {t - sentAt}: a dead leader is replaced within TTL plus the skew margins");
    }

    [Fact]
    public void Release_FreesTheLeaseAtOnce_OnlyForItsHolderAndTerm()
    {
        var lease = LeaderElection.Decide(new LeaseSnapshot(), "vpod-a", T0, Ttl, TimeSpan.Zero).Lease;
        Assert.Equal(lease, LeaderElection.Release(lease, "vpod-b", 1, T0));
        Assert.Equal(lease, LeaderElection.Release(lease, "vpod-a", 0, T0));

        var released = LeaderElection.Release(lease, "vpod-a", 1, T0 + TimeSpan.FromSeconds(1));
        Assert.Null(released.Holder);
        Assert.Equal(1, released.Term);
        var next = LeaderElection.Decide(released, "vpod-b", T0 + TimeSpan.FromSeconds(1), Ttl, Skew);
        Assert.Equal(LeaseOutcome.Acquired, next.Outcome);
        Assert.Equal(2, next.Lease.Term);
    }

    [Fact]
    public void Decide_NeverLowersTheTerm_OverAnySequenceOfCampaigns()
    {
        var random = new Random(7);
        var lease = new LeaseSnapshot();
        var now = T0;
        string[] candidates = ["vpod-a", "vpod-b", "vpod-c"];
        for (var i = 0; i < 2_000; i++)
        {
            now += TimeSpan.FromMilliseconds(random.Next(0, 3_000));
            var before = lease.Term;
            lease = random.Next(5) == 0 && lease.Holder is { } holder
                ? LeaderElection.Release(lease, holder, lease.Term, now)
                : LeaderElection.Decide(lease, candidates[random.Next(3)], now, Ttl, random.Next(2) == 0 ? Skew : TimeSpan.Zero).Lease;
            Assert.True(lease.Term >= before, $"step {i}: term went from {before} to {lease.Term}");
        }
    }
}
