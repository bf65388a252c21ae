using MetaNode.Orchestration;
using MetaNode.Tests.Infrastructure;
using Orleans.Core.Internal;

namespace MetaNode.Tests.Clusters;

/// <summary>
/// The lease grain on a real silo whose clock the test moves: a re-activation (the grain moved or was collected) never hands a
/// live leader's lease to another, and a lease that is no longer renewed is free exactly one TTL after its last renewal.
/// </summary>
public sealed class LeaderLeaseGrainTests(FakeClockSiloFixture fixture) : IClassFixture<FakeClockSiloFixture>
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(1);

    [Fact]
    public async Task Reactivation_KeepsTheRenewingHoldersLease_AndFreesItOnlyAfterItStopsRenewing()
    {
        var lease = fixture.Grains.GetGrain<ILeaderLeaseGrain>("lease-test-" + Guid.NewGuid().ToString("N")[..8]);
        var first = await lease.AcquireOrRenewAsync("vpod-a", "agent-a", "silo-1");
        Assert.True(first.Granted);
        Assert.Equal(1, first.Lease.Term);
        Assert.Equal(fixture.Time.GetUtcNow() + FakeClockSiloFixture.LeaseTtl, first.Lease.ExpiresAt);

        // The holder renews (in memory only) until the expiry written at acquisition is well past.
        var storedExpiry = first.Lease.ExpiresAt;
        while (fixture.Time.GetUtcNow() < storedExpiry + FakeClockSiloFixture.LeaseTtl)
        {
            Assert.True((await lease.AcquireOrRenewAsync("vpod-a", "agent-a", "silo-1")).Granted);
            fixture.Time.Advance(FakeClockSiloFixture.RenewalPeriod);
        }

        // The grain is deactivated; its next activation reads the stale expiry back.
        await lease.Cast<IGrainManagementExtension>().DeactivateOnIdle();

        var rival = await lease.AcquireOrRenewAsync("vpod-b", "agent-b", "silo-2");
        Assert.False(rival.Granted);
        Assert.Equal(("vpod-a", 1L), (rival.Lease.Holder, rival.Lease.Term));
        var renewed = await lease.AcquireOrRenewAsync("vpod-a", "agent-a", "silo-1");
        Assert.True(renewed.Granted);
        Assert.Equal(fixture.Time.GetUtcNow() + FakeClockSiloFixture.LeaseTtl, renewed.Lease.ExpiresAt);

        // The holder stops renewing: up to its last renewal's expiry the rival is refused, a moment later it gets the next term.
        fixture.Time.Advance(FakeClockSiloFixture.LeaseTtl - Tick);
        Assert.False((await lease.AcquireOrRenewAsync("vpod-b", "agent-b", "silo-2")).Granted);

        fixture.Time.Advance(Tick + Tick);
        var taken = await lease.AcquireOrRenewAsync("vpod-b", "agent-b", "silo-2");
        Assert.True(taken.Granted);
        Assert.Equal(("vpod-b", 2L), (taken.Lease.Holder, taken.Lease.Term));
    }
}
