using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;

namespace MetaNode.Tests.VPods;

/// <summary>
/// The restart policy's backoff on a silo whose clock the test moves: a crashed vPod is restarted exactly when its backoff has
/// passed on that clock, and the next crash in a row waits twice as long.
/// </summary>
public sealed class VPodRestartBackoffTests(FakeClockSiloFixture fixture) : IClassFixture<FakeClockSiloFixture>
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(1);

    [Fact]
    public async Task CrashingWorkload_IsRestartedWhenItsBackoffHasPassed_AndTheNextCrashWaitsTwiceAsLong()
    {
        var id = "vpod-" + Guid.NewGuid().ToString("N")[..8];
        var grain = fixture.Grains.GetGrain<IVPodGrain>(id);
        await grain.CreateAsync(new VPodSpec
        {
            Name = "backoff-" + id[5..],
            Command = ["/bin/sh", "-c", "echo starting; exit 3"],
            RestartPolicy = RestartPolicy.OnFailure,
            MemoryBytes = 64L << 20,
        });

        var failed = await fixture.AdvanceUntilAsync(() => grain.GetStatusAsync(), s => s.Phase == VPodPhase.Failed && s.NextRestartAt is not null, "the first crash to be seen");
        Assert.Equal(0, failed.RestartCount);
        Assert.Equal(LastFailure(failed) + FakeClockSiloFixture.RestartBackoffInitial, failed.NextRestartAt);

        // Not a moment before the backoff has passed on the silo's clock.
        fixture.Time.Advance(failed.NextRestartAt!.Value - fixture.Time.GetUtcNow() - Tick);
        var waiting = await grain.GetStatusAsync();
        Assert.Equal((VPodPhase.Failed, 0), (waiting.Phase, waiting.RestartCount));

        fixture.Time.Advance(Tick);
        var again = await fixture.AdvanceUntilAsync(
            () => grain.GetStatusAsync(),
            s => s.RestartCount == 1 && s.Phase == VPodPhase.Failed && s.NextRestartAt is not null,
            "the restart, then its crash, to be seen");
        Assert.Contains(again.Transitions, t => t.Trigger == VPodTrigger.BackoffElapsed);
        Assert.Equal(LastFailure(again) + (2 * FakeClockSiloFixture.RestartBackoffInitial), again.NextRestartAt);

        await grain.DeleteAsync(new StopOptions(Force: true));
    }

    private static DateTimeOffset LastFailure(VPodStatus status) => status.Transitions.Last(t => t.To == VPodPhase.Failed).At;
}
