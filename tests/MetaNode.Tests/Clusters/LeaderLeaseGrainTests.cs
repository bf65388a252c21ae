using MetaNode.Orchestration;
using Orleans.Core.Internal;
using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Clusters;

/// <summary>The lease grain on a real silo: a re-activation (the grain moved or was collected) never hands a live leader's lease to another.</summary>
[Collection(ClusterGrainCollection.Name)]
public sealed class LeaderLeaseGrainTests(ClusterGrainFixture fixture)
{
    [Fact]
    public async Task Reactivation_KeepsTheRenewingHoldersLease_AndFreesItOnlyAfterItStopsRenewing()
    {
        var lease = fixture.Grains.GetGrain<ILeaderLeaseGrain>("lease-test-" + Guid.NewGuid().ToString("N")[..8]);
        var first = await lease.AcquireOrRenewAsync("vpod-a", "agent-a", "silo-1");
        Assert.True(first.Granted);
        Assert.Equal(1, first.Lease.Term);

        // The holder renews (in memory only) until the expiry written at acquisition is well past.
        var storedExpiry = first.Lease.ExpiresAt;
        while (DateTimeOffset.UtcNow < storedExpiry + ClusterGrainFixture.LeaseTtl)
        {
            Assert.True((await lease.AcquireOrRenewAsync("vpod-a", "agent-a", "silo-1")).Granted);
            await Task.Delay(ClusterGrainFixture.RenewalPeriod);
        }

        // The grain is deactivated; its next activation reads the stale expiry back.
        await lease.Cast<IGrainManagementExtension>().DeactivateOnIdle();

        var rival = await lease.AcquireOrRenewAsync("vpod-b", "agent-b", "silo-2");
        Assert.False(rival.Granted);
        Assert.Equal(("vpod-a", 1L), (rival.Lease.Holder, rival.Lease.Term));
        Assert.True((await lease.AcquireOrRenewAsync("vpod-a", "agent-a", "silo-1")).Granted);

        // Once the holder stops renewing, the rival gets the next term.
        var taken = await Eventually.WaitAsync(
            () => lease.AcquireOrRenewAsync("vpod-b", "agent-b", "silo-2"),
            grant => grant.Granted,
            "the rival takes the lease after the holder stopped renewing",
            TimeSpan.FromSeconds(10));
        Assert.Equal(("vpod-b", 2L), (taken.Lease.Holder, taken.Lease.Term));
    }
}
