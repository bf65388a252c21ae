using MetaNode.Grains.Hosting;
using MetaNode.Grains.VPods;
using MetaNode.Tests.Infrastructure;
using MetaNode.VPods;
using Orleans.TestingHost;

namespace MetaNode.Tests.VPods;

/// <summary>
/// The vPod registry's concurrent changes share its writes: while one write runs, the changes made meanwhile go out together in
/// the next one, and each caller returns only once a write that began after its change succeeded. On a silo whose vPod storage
/// is held by the test, so each write ends when and how the test says.
/// </summary>
public sealed class VPodRegistryWriteSharingTests : IAsyncLifetime
{
    private const string StateName = "registry";
    private readonly HeldWritesGrainStorage _storage = new();
    private InProcessTestCluster? _cluster;
    private string _key = null!;

    private IVPodRegistryGrain Registry => _cluster!.Client.GetGrain<IVPodRegistryGrain>(_key);

    private GrainId RegistryId => GrainId.Create("vpod-registry", _key);

    public async Task InitializeAsync()
    {
        _key = "registry-" + Guid.NewGuid().ToString("N")[..8];
        _cluster = await new TestSiloBuilder()
            .WithoutFileLogging()
            .ConfigureSilo(silo => _storage.AddTo(silo, MetaNodeNames.VPodStorage))
            .StartAsync();
    }

    public Task DisposeAsync() => TestSiloBuilder.StopAsync(_cluster);

    private static VPodSummary Summary(string id, string name) => new()
    {
        Id = id,
        Name = name,
        Phase = VPodPhase.Provisioning,
        CreatedAt = DateTimeOffset.UnixEpoch,
        UpdatedAt = DateTimeOffset.UnixEpoch,
        ShouldRun = true,
    };

    /// <summary>Waits (without sleeping on a guess) until the registry, answering while its write is held, lists <paramref name="count"/> vPods.</summary>
    private Task WaitForListedAsync(int count) =>
        Eventually.WaitAsync(() => Registry.ListAsync(), l => l.Count == count, $"the registry to list {count} vPods while its write is held", TimeSpan.FromSeconds(10));

    [Fact]
    public async Task ConcurrentChanges_ShareWrites_AllEndPersisted_AndAContestedNameGoesToExactlyOne()
    {
        // One write, held: every change that arrives meanwhile must wait for the write after it.
        await Registry.UpsertAsync(Summary("vpod-first", "first"));
        Assert.Equal(1, _storage.Writes);
        _storage.HoldWrites();
        var opening = Registry.UpsertAsync(Summary("vpod-opening", "opening"));
        var first = await _storage.NextWriteAsync();

        const int N = 24;
        var upserts = Enumerable.Range(0, N).Select(i => Registry.UpsertAsync(Summary($"vpod-up{i:00}", $"up{i:00}"))).ToList();
        var reservations = Enumerable.Range(0, N).Select(i => Registry.ReserveNameAsync($"reserved{i:00}", $"vpod-res{i:00}")).ToList();
        var contestA = Registry.ReserveNameAsync("contested", "vpod-a");
        var contestB = Registry.ReserveNameAsync("contested", "vpod-b");

        // The registry is reentrant: it lists every upsert while its first write is still held.
        await WaitForListedAsync(N + 2);

        // The name is checked and reserved in one step: the loser is told at once who holds it, the winner waits for the write.
        var loser = await Task.WhenAny(contestA, contestB);
        var winner = Assert.IsType<string>(await loser);
        Assert.Equal(loser == contestA ? "vpod-b" : "vpod-a", winner);
        var winning = loser == contestA ? contestB : contestA;
        Assert.False(winning.IsCompleted, "the reservation returned before a write that carries it succeeded");

        first.Succeed();
        await opening;

        // Every later change shares the one write that began after the first: none returned before it ends.
        var shared = await _storage.NextWriteAsync();
        Assert.All(upserts, u => Assert.False(u.IsCompleted, "an upsert returned before a write that carries it succeeded"));
        Assert.All(reservations, r => Assert.False(r.IsCompleted, "a reservation returned before a write that carries it succeeded"));
        shared.Succeed();
        await Task.WhenAll(upserts);
        Assert.All(await Task.WhenAll(reservations), Assert.Null);
        Assert.Null(await winning);

        Assert.Equal(3, _storage.Writes);
        var stored = _storage.Stored<VPodRegistryState>(StateName, RegistryId)!;
        Assert.Equal(N + 2, stored.Entries.Count);
        Assert.All(Enumerable.Range(0, N), i => Assert.Equal($"vpod-up{i:00}", stored.Names[$"up{i:00}"]));
        Assert.All(Enumerable.Range(0, N), i => Assert.Equal($"vpod-res{i:00}", stored.Names[$"reserved{i:00}"]));
        Assert.Equal(winner, stored.Names["contested"]);
    }

    [Fact]
    public async Task AFailedWrite_FailsEveryCallerWhoseChangeItCarried_AndNoneOfThemReturnsAsIfPersisted()
    {
        await Registry.UpsertAsync(Summary("vpod-first", "first"));
        _storage.HoldWrites();

        // c1 rides the first write; c2 and c3 arrive while it runs and share the next one.
        var c1 = Registry.UpsertAsync(Summary("vpod-c1", "c1"));
        var w1 = await _storage.NextWriteAsync();
        var c2 = Registry.UpsertAsync(Summary("vpod-c2", "c2"));
        var c3 = Registry.ReserveNameAsync("c3", "vpod-c3");
        await WaitForListedAsync(3);

        w1.Fail(new IOException("disk full (w1)"));
        Assert.Contains("disk full (w1)", (await Assert.ThrowsAnyAsync<Exception>(() => c1)).ToString(), StringComparison.Ordinal);

        // The next write carries c1 again with c2 and c3; it fails too, and both its callers are told.
        var w2 = await _storage.NextWriteAsync();
        var carried = Assert.IsType<VPodRegistryState>(w2.State);
        Assert.True(carried.Entries.ContainsKey("vpod-c1") && carried.Entries.ContainsKey("vpod-c2") && carried.Names.ContainsKey("c3"));
        Assert.False(c2.IsCompleted || c3.IsCompleted, "a caller returned before the write that carries its change ended");
        w2.Fail(new IOException("disk full (w2)"));
        Assert.Contains("disk full (w2)", (await Assert.ThrowsAnyAsync<Exception>(() => c2)).ToString(), StringComparison.Ordinal);
        Assert.Contains("disk full (w2)", (await Assert.ThrowsAnyAsync<Exception>(() => c3)).ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("vpod-c1", _storage.Stored<VPodRegistryState>(StateName, RegistryId)!.Entries.Keys);

        // A change after the failures gets a write of its own, which succeeds, and with it what the failed ones carried.
        var c4 = Registry.UpsertAsync(Summary("vpod-c4", "c4"));
        var w3 = await _storage.NextWriteAsync();
        w3.Succeed();
        await c4;
        var stored = _storage.Stored<VPodRegistryState>(StateName, RegistryId)!;
        Assert.Equal(["vpod-c1", "vpod-c2", "vpod-c4", "vpod-first"], stored.Entries.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("vpod-c3", stored.Names["c3"]);
    }
}
