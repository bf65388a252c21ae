using System.Net;
using MetaNode.Grains.Hosting;
using MetaNode.Grains.Placement;
using MetaNode.Placement;
using MetaNode.Tests.Infrastructure;
using Orleans.TestingHost;

namespace MetaNode.Tests.Clusters;

/// <summary>
/// The placement ledger's concurrent placements (a dead silo's vPods, re-activated together) share its writes: each decision
/// sees the reservations made before it, and each caller is answered only once a write holding its reservation succeeded. On a
/// silo whose storage is held by the test, so each write ends when and how the test says.
/// </summary>
public sealed class PlacementLedgerWriteSharingTests : IAsyncLifetime
{
    private const string StateName = "ledger";
    private readonly HeldWritesGrainStorage _storage = new();
    private readonly SiloAddress[] _silos = [.. Enumerable.Range(1, 3).Select(i => SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11_110 + i), 1))];
    private InProcessTestCluster? _cluster;
    private string _key = null!;

    private IPlacementLedgerGrain Ledger => _cluster!.Client.GetGrain<IPlacementLedgerGrain>(_key);

    private GrainId LedgerId => GrainId.Create("placement-ledger", _key);

    public async Task InitializeAsync()
    {
        _key = "ledger-" + Guid.NewGuid().ToString("N")[..8];
        _cluster = await new TestSiloBuilder()
            .WithoutFileLogging()
            .ConfigureSilo(silo => _storage.AddTo(silo, MetaNodeNames.VPodStorage))
            .StartAsync();
    }

    public Task DisposeAsync() => TestSiloBuilder.StopAsync(_cluster);

    private static PlacementRequest Request(string id) => new() { VPodId = id, CpuMillis = 10, MemoryBytes = 1L << 20 };

    private Task WaitForReservedAsync(int count) =>
        Eventually.WaitAsync(() => Ledger.ListAsync(null), l => l.Count == count, $"the ledger to hold {count} reservations while its write is held", TimeSpan.FromSeconds(10));

    [Fact]
    public async Task ConcurrentPlacements_ShareWrites_EachSeesThoseBeforeIt_AndNoneReturnsBeforeItIsWritten()
    {
        await Ledger.PlaceAsync(Request("vpod-first"), _silos);
        Assert.Equal(1, _storage.Writes);
        _storage.HoldWrites();
        var opening = Ledger.PlaceAsync(Request("vpod-opening"), _silos);
        var first = await _storage.NextWriteAsync();

        const int N = 31;
        var placements = Enumerable.Range(0, N).Select(i => Ledger.PlaceAsync(Request($"vpod-p{i:00}"), _silos)).ToList();

        // The ledger is reentrant: it holds every reservation while its first write is still held, and has answered none.
        await WaitForReservedAsync(N + 2);
        Assert.All(placements, p => Assert.False(p.IsCompleted, "a placement returned before a write that carries it succeeded"));
        first.Succeed();
        await opening;

        var shared = await _storage.NextWriteAsync();
        Assert.All(placements, p => Assert.False(p.IsCompleted, "a placement returned before a write that carries it succeeded"));
        shared.Succeed();
        var reservations = await Task.WhenAll(placements);

        Assert.Equal(3, _storage.Writes);
        var stored = _storage.Stored<PlacementLedgerState>(StateName, LedgerId)!;
        Assert.Equal(N + 2, stored.Reservations.Count);
        Assert.All(reservations, r => Assert.Equal(r.Silo, stored.Reservations[r.Request.VPodId].Silo));

        // Every decision saw the reservations before it: 33 equal vPods over three equal silos, 11 each.
        Assert.Equal([11, 11, 11], stored.Reservations.Values.GroupBy(r => r.Silo).Select(g => g.Count()));
    }

    [Fact]
    public async Task AFailedWrite_FailsThePlacementsItCarried_AndTheNextWriteCarriesThemAgain()
    {
        await Ledger.PlaceAsync(Request("vpod-first"), _silos);
        _storage.HoldWrites();
        var p1 = Ledger.PlaceAsync(Request("vpod-p1"), _silos);
        var w1 = await _storage.NextWriteAsync();
        var p2 = Ledger.PlaceAsync(Request("vpod-p2"), _silos);
        var p3 = Ledger.PlaceAsync(Request("vpod-p3"), _silos);
        await WaitForReservedAsync(4);

        w1.Fail(new IOException("database gone (w1)"));
        Assert.Contains("database gone (w1)", (await Assert.ThrowsAnyAsync<Exception>(() => p1)).ToString(), StringComparison.Ordinal);
        var w2 = await _storage.NextWriteAsync();
        var carried = Assert.IsType<PlacementLedgerState>(w2.State);
        Assert.Equal(["vpod-first", "vpod-p1", "vpod-p2", "vpod-p3"], carried.Reservations.Keys.Order(StringComparer.Ordinal));
        Assert.False(p2.IsCompleted || p3.IsCompleted, "a placement returned before the write that carries it ended");
        w2.Fail(new IOException("database gone (w2)"));
        Assert.Contains("database gone (w2)", (await Assert.ThrowsAnyAsync<Exception>(() => p2)).ToString(), StringComparison.Ordinal);
        Assert.Contains("database gone (w2)", (await Assert.ThrowsAnyAsync<Exception>(() => p3)).ToString(), StringComparison.Ordinal);
        Assert.Equal(["vpod-first"], _storage.Stored<PlacementLedgerState>(StateName, LedgerId)!.Reservations.Keys);

        var p4 = Ledger.PlaceAsync(Request("vpod-p4"), _silos);
        (await _storage.NextWriteAsync()).Succeed();
        await p4;
        Assert.Equal(5, _storage.Stored<PlacementLedgerState>(StateName, LedgerId)!.Reservations.Count);
    }
}
