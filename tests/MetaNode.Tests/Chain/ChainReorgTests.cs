using MetaNode.Chain;
using MetaNode.Grains.Chain;
using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Chain;

/// <summary>
/// The chain watcher across real reorganizations (anvil_reorg). The contract: with confirmation depth D an event is
/// published once its block is D deep, so a reorg shallower than D publishes nothing of the abandoned branch; a deeper
/// one is noticed through the checkpoint's hash, the watcher rewinds to the fork point and publishes the canonical
/// chain's events from there, each once (an abandoned event is not retracted: it differs by block hash, and the status
/// counts the reorg). The watcher's timer is off: the test polls, so every step is observed.
/// </summary>
public sealed class ChainReorgTests
{
    [Fact]
    public async Task AReorgShallowerThanTheConfirmationDepth_PublishesNothingOfTheAbandonedBranch()
    {
        await using var anvil = await ReorgChain.StartAsync();
        await using var chain = await ChainCluster.StartAsync(anvil.RpcUrl, await ReorgChain.FundedKeyAsync(anvil.RpcUrl), anvil.ClusterSettings(confirmations: 3));
        var probe = chain.Grains.GetGrain<IChainEventProbeGrain>("shallow");
        await probe.SubscribeAsync(anvil.Registry);
        var watcher = chain.Grains.GetGrain<IChainWatcherGrain>(ChainKeys.Default);

        // Round 1 three blocks deep: published.
        var (_, first) = await anvil.FinalizeAsync(RegistryHarness.Round("job-shallow", 1));
        await anvil.MineAsync(2);
        var status = await watcher.PollAsync();
        Assert.Equal((first, 1L), (status.Checkpoint, status.EventsPublished));

        // Round 2 two blocks deep: not yet.
        var (abandonedTx, abandoned) = await anvil.FinalizeAsync(RegistryHarness.Round("job-shallow", 2));
        await anvil.MineAsync();
        var abandonedHash = await anvil.BlockHashAsync(abandoned);
        status = await watcher.PollAsync();
        Assert.Equal((abandoned - 1, 1L), (status.Checkpoint, status.EventsPublished));

        // A reorg of depth 2: the new first block finalizes round 3 (another sender), round 2's transaction moves one block up.
        var third = RegistryHarness.Round("job-shallow", 3);
        await anvil.ReorgAsync(2, (anvil.FinalizeRequest(third), 0), (await anvil.RawTransactionAsync(abandonedTx), 1));
        Assert.NotEqual(abandonedHash, await anvil.BlockHashAsync(abandoned));
        Assert.Equal([abandonedTx], await anvil.BlockTransactionsAsync(abandoned + 1));
        status = await watcher.PollAsync();
        Assert.Equal((abandoned - 1, 1L, 0L), (status.Checkpoint, status.EventsPublished, status.ReorgsSeen));

        // Once the new blocks are three deep, both of their events are published, once, from the canonical blocks.
        await anvil.MineAsync(2);
        status = await watcher.PollAsync();
        Assert.Equal((abandoned + 1, 3L, 0L), (status.Checkpoint, status.EventsPublished, status.ReorgsSeen));
        var canonical = await anvil.LogsAsync();
        Assert.Equal([(1L, first), (3L, abandoned), (2L, abandoned + 1)], canonical.Select(l => (l.Round, l.Block)));
        var events = await Eventually.WaitAsync(probe.GetEventsAsync, e => e.Count >= 3, "three events on the stream");
        Assert.Equal(canonical.Select(l => (l.Round, l.EventId, l.Block, l.BlockHash)), events.Select(e => (e.Round, e.EventId, e.BlockNumber, e.BlockHash)));
        Assert.DoesNotContain(events, e => e.BlockHash == abandonedHash);
        Assert.Equal(third.ResultHash, events.Single(e => e.Round == 3).ResultHash);

        // Nothing of the abandoned branch was ever published, so nothing is retracted.
        Assert.Equal(0L, status.EventsRetracted);
        Assert.DoesNotContain(events, e => e.Removed);
    }

    [Fact]
    public async Task AReorgDeeperThanTheConfirmationDepth_RewindsToTheForkPoint_AndPublishesTheCanonicalEventsOnce()
    {
        await using var anvil = await ReorgChain.StartAsync();
        await using var chain = await ChainCluster.StartAsync(anvil.RpcUrl, await ReorgChain.FundedKeyAsync(anvil.RpcUrl), anvil.ClusterSettings(confirmations: 2));
        var probe = chain.Grains.GetGrain<IChainEventProbeGrain>("deep");
        await probe.SubscribeAsync(anvil.Registry);
        var watcher = chain.Grains.GetGrain<IChainWatcherGrain>(ChainKeys.Default);

        // Round 1 at the fork point; round 2 two blocks above it, published, and the watcher two blocks past it.
        var (_, fork) = await anvil.FinalizeAsync(RegistryHarness.Round("job-deep", 1));
        await anvil.MineAsync();
        await watcher.PollAsync();
        var (abandonedTx, abandoned) = await anvil.FinalizeAsync(RegistryHarness.Round("job-deep", 2));
        for (var i = 0; i < 2; i++)
        {
            await anvil.MineAsync();
            await watcher.PollAsync();
        }

        var status = await watcher.PollAsync();
        Assert.Equal((abandoned + 1, 2L, 0L), (status.Checkpoint, status.EventsPublished, status.ReorgsSeen));
        var abandonedHash = await anvil.BlockHashAsync(abandoned);
        var before = await Eventually.WaitAsync(probe.GetEventsAsync, e => e.Count >= 2, "the two events before the reorg");
        Assert.Equal([fork, abandoned], before.Select(e => e.BlockNumber));

        // Four blocks above the fork point replaced: round 3 (another sender) right above it, round 2's transaction two blocks later.
        var head = await anvil.HeadAsync();
        Assert.Equal(fork + 4, head);
        var third = RegistryHarness.Round("job-deep", 3);
        await anvil.ReorgAsync(4, (anvil.FinalizeRequest(third), 0), (await anvil.RawTransactionAsync(abandonedTx), 2));
        Assert.Equal(head, await anvil.HeadAsync());

        // The checkpoint's hash changed: one reorg seen, the rewind reached the fork point (round 1 is not published
        // again, round 3 right above it is), and the canonical events above it are published once each.
        status = await watcher.PollAsync();
        Assert.Equal((head - 1, 4L, 1L), (status.Checkpoint, status.EventsPublished, status.ReorgsSeen));
        var canonical = await anvil.LogsAsync();
        Assert.Equal([(1L, fork), (3L, fork + 1), (2L, fork + 3)], canonical.Select(l => (l.Round, l.Block)));
        Assert.Equal(1L, status.EventsRetracted);
        var events = await Eventually.WaitAsync(probe.GetEventsAsync, e => e.Count >= 5, "a retraction and the two events after the reorg");

        // First the retraction of round 2 as published from the abandoned block, then the canonical events.
        var retraction = events[2];
        Assert.True(retraction.Removed);
        Assert.Equal((2L, before[1].EventId, abandoned, abandonedHash), (retraction.Round, retraction.EventId, retraction.BlockNumber, retraction.BlockHash));
        var after = events.Skip(3).ToArray();
        Assert.All(after, e => Assert.False(e.Removed));
        Assert.Equal(canonical.Skip(1).Select(l => (l.Round, l.EventId, l.Block, l.BlockHash)), after.Select(e => (e.Round, e.EventId, e.BlockNumber, e.BlockHash)));

        // Round 2's transaction is the same one: its id repeats, and the consumer tells the copies apart by block hash.
        Assert.Equal(before[1].EventId, after[1].EventId);
        Assert.Equal(abandonedHash, before[1].BlockHash);
        Assert.NotEqual(abandonedHash, after[1].BlockHash);

        // Settled: another poll (and a further block) publishes nothing again.
        await anvil.MineAsync();
        status = await watcher.PollAsync();
        Assert.Equal((head, 4L, 1L, 1L), (status.Checkpoint, status.EventsPublished, status.ReorgsSeen, status.EventsRetracted));
        Assert.Equal(5, (await probe.GetEventsAsync()).Count);
    }

    [Fact]
    public async Task AReorgBelowEveryRememberedCheckpoint_RescansFromTheStart()
    {
        await using var anvil = await ReorgChain.StartAsync();
        var settings = anvil.ClusterSettings(confirmations: 1);
        settings["MetaNode:Chain:Watcher:ReorgHistory"] = "1";
        await using var chain = await ChainCluster.StartAsync(anvil.RpcUrl, await ReorgChain.FundedKeyAsync(anvil.RpcUrl), settings);
        var probe = chain.Grains.GetGrain<IChainEventProbeGrain>("rescan");
        await probe.SubscribeAsync(anvil.Registry);
        var watcher = chain.Grains.GetGrain<IChainWatcherGrain>(ChainKeys.Default);

        var (_, first) = await anvil.FinalizeAsync(RegistryHarness.Round("job-rescan", 1));
        await watcher.PollAsync();
        await anvil.MineAsync();
        var status = await watcher.PollAsync();
        Assert.Equal((first + 1, 1L), (status.Checkpoint, status.EventsPublished));

        // Only the checkpoint is remembered and it is gone: the watcher cannot tell the fork point and starts over.
        await anvil.ReorgAsync(1, (anvil.FinalizeRequest(RegistryHarness.Round("job-rescan", 2)), 0));
        status = await watcher.PollAsync();
        Assert.Equal((first + 1, 3L, 1L), (status.Checkpoint, status.EventsPublished, status.ReorgsSeen));
        var canonical = await anvil.LogsAsync();
        var events = await Eventually.WaitAsync(probe.GetEventsAsync, e => e.Count >= 3, "round 1 again and round 2");
        Assert.Equal(canonical.Select(l => (l.Round, l.EventId, l.BlockHash)), events.Skip(1).Select(e => (e.Round, e.EventId, e.BlockHash)));
        Assert.Equal(events[0].EventId, events[1].EventId);
    }

    [Fact]
    public void Retractions_AreTheEventsAboveTheForkPoint_NewestFirst_AndOnlyThoseAboveTheOldestCheckpointAreKept()
    {
        static RoundFinalizedEvent Event(long block, long logIndex) => new()
        {
            EventId = $"0xt{block}:{logIndex}",
            Registry = "0xr",
            JobId = "job",
            Round = block,
            ResultHash = "0x1",
            ReceiptsRoot = "0x2",
            ModelRef = "0x3",
            BlockNumber = block,
            BlockHash = $"0xb{block}",
            TransactionHash = $"0xt{block}",
            LogIndex = logIndex,
        };

        var recent = new[] { Event(4, 0), Event(6, 1), Event(6, 0), Event(9, 0) };
        Assert.Equal([Event(9, 0), Event(6, 1), Event(6, 0)], ChainWatcherGrain.Abandoned(recent, rewoundTo: 5));
        Assert.Empty(ChainWatcherGrain.Abandoned(recent, rewoundTo: 9));
        Assert.Equal(recent.Reverse().OrderByDescending(e => e.BlockNumber).ThenByDescending(e => e.LogIndex), ChainWatcherGrain.Abandoned(recent, rewoundTo: -1));

        Assert.Equal([Event(6, 1), Event(6, 0), Event(9, 0)], ChainWatcherGrain.Retractable(recent, [new WatchedBlock { Number = 5, Hash = "0x5" }, new WatchedBlock { Number = 9, Hash = "0x9" }]));
        Assert.Empty(ChainWatcherGrain.Retractable(recent, []));
    }

    [Fact]
    public void TheCheckpointHistory_KeepsTheNewestEntriesBelowTheNewCheckpoint()
    {
        static WatchedBlock Block(long number) => new() { Number = number, Hash = $"0x{number:x2}" };
        var history = new List<WatchedBlock>();
        foreach (var number in new long[] { 3, 5, 8, 9 })
        {
            history = ChainWatcherGrain.Remember(history, Block(number), limit: 3);
        }

        Assert.Equal([Block(5), Block(8), Block(9)], history);

        // After a rewind to 5 the next checkpoint replaces whatever was at or above it.
        Assert.Equal([Block(3), Block(5), Block(7)], ChainWatcherGrain.Remember([Block(3), Block(5), Block(8)], Block(7), limit: 3));
        Assert.Equal([Block(7)], ChainWatcherGrain.Remember([Block(3), Block(5)], Block(7), limit: 1));
    }
}
