using Microsoft.Data.Sqlite;

namespace MetaNode.Tests.Persistence;

public sealed class SqliteReminderTableTests : IDisposable
{
    private static readonly DateTime StartAt = new(2030, 1, 2, 3, 4, 5, DateTimeKind.Utc);
    private readonly SqliteTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task UpsertRow_ReturnsAFreshETag_AndReadRowReturnsTheEntry()
    {
        using var table = _files.CreateReminderTable();
        await table.StartAsync();
        var grainId = NewGrainId();

        var first = await table.UpsertRow(Entry(grainId, "tick", TimeSpan.FromMinutes(1)));
        var second = await table.UpsertRow(Entry(grainId, "tick", TimeSpan.FromMinutes(5)));

        Assert.False(string.IsNullOrEmpty(first));
        Assert.NotEqual(first, second);
        var row = await table.ReadRow(grainId, "tick");
        Assert.NotNull(row);
        Assert.Equal(grainId, row.GrainId);
        Assert.Equal("tick", row.ReminderName);
        Assert.Equal(StartAt, row.StartAt);
        Assert.Equal(DateTimeKind.Utc, row.StartAt.Kind);
        Assert.Equal(TimeSpan.FromMinutes(5), row.Period);
        Assert.Equal(second, row.ETag);
        Assert.Null(await table.ReadRow(grainId, "missing"));
    }

    [Fact]
    public async Task ReadRows_ForAGrain_ReturnsOnlyThatGrainsReminders()
    {
        using var table = _files.CreateReminderTable();
        var grainId = NewGrainId();
        await table.UpsertRow(Entry(grainId, "a", TimeSpan.FromMinutes(1)));
        await table.UpsertRow(Entry(grainId, "b", TimeSpan.FromMinutes(1)));
        await table.UpsertRow(Entry(NewGrainId(), "a", TimeSpan.FromMinutes(1)));

        var rows = await table.ReadRows(grainId);

        Assert.Equal(["a", "b"], rows.Reminders.Select(r => r.ReminderName).Order(StringComparer.Ordinal));
        Assert.All(rows.Reminders, r => Assert.Equal(grainId, r.GrainId));
    }

    [Fact]
    public async Task ReadRows_ForAHashRange_FollowsTheRing_IncludingTheRangeThatWraps()
    {
        using var table = _files.CreateReminderTable();
        var grains = Enumerable.Range(0, 64).Select(_ => NewGrainId()).ToList();
        foreach (var grain in grains)
        {
            await table.UpsertRow(Entry(grain, "tick", TimeSpan.FromMinutes(1)));
        }

        var hashes = grains.Select(g => g.GetUniformHashCode()).Order().ToArray();

        async Task AssertRangeAsync(uint begin, uint end, Func<uint, bool> inRange, string description)
        {
            var rows = await table.ReadRows(begin, end);
            var expected = grains.Where(g => inRange(g.GetUniformHashCode())).Select(g => g.ToString()).Order(StringComparer.Ordinal);
            var actual = rows.Reminders.Select(r => r.GrainId.ToString()).Order(StringComparer.Ordinal);
            Assert.True(expected.SequenceEqual(actual), $"Range {description} (0x{begin:X8}, 0x{end:X8}] returned the wrong grains.");
        }

        var low = hashes[10];
        var high = hashes[40];
        await AssertRangeAsync(low, high, h => h > low && h <= high, "inside the ring");
        await AssertRangeAsync(high, low, h => h > high || h <= low, "wrapping past the end");
        await AssertRangeAsync(low, low, _ => true, "covering the whole ring");
        await AssertRangeAsync(hashes[^1], hashes[0], h => h == hashes[0], "wrapping from the largest hash to the smallest");
        await AssertRangeAsync(0, uint.MaxValue, h => h > 0, "spanning every unsigned value");
        Assert.Equal(30, (await table.ReadRows(low, high)).Reminders.Count);
    }

    [Fact]
    public async Task RemoveRow_RemovesOnlyWithTheCurrentETag()
    {
        using var table = _files.CreateReminderTable();
        var grainId = NewGrainId();
        var old = await table.UpsertRow(Entry(grainId, "tick", TimeSpan.FromMinutes(1)));
        var current = await table.UpsertRow(Entry(grainId, "tick", TimeSpan.FromMinutes(2)));

        Assert.False(await table.RemoveRow(grainId, "tick", old!));
        Assert.NotNull(await table.ReadRow(grainId, "tick"));
        Assert.True(await table.RemoveRow(grainId, "tick", current!));
        Assert.Null(await table.ReadRow(grainId, "tick"));
        Assert.False(await table.RemoveRow(grainId, "tick", current!));
    }

    [Fact]
    public async Task TestOnlyClearTable_RemovesOnlyThisServicesReminders()
    {
        using var serviceA = _files.CreateReminderTable(serviceId: "service-a");
        using var serviceB = _files.CreateReminderTable(serviceId: "service-b");
        var grainId = NewGrainId();
        await serviceA.UpsertRow(Entry(grainId, "tick", TimeSpan.FromMinutes(1)));
        await serviceB.UpsertRow(Entry(grainId, "tick", TimeSpan.FromMinutes(1)));

        await serviceA.TestOnlyClearTable();

        Assert.Empty((await serviceA.ReadRows(0, 0)).Reminders);
        Assert.Single((await serviceB.ReadRows(0, 0)).Reminders);
    }

    [Fact]
    public async Task Reminders_SurviveDisposingAndReopeningTheFile_SharedWithGrainState()
    {
        var grainId = NewGrainId();
        string? etag;
        using (var storage = _files.CreateStorage())
        using (var table = _files.CreateReminderTable())
        {
            await storage.InitializeAsync(CancellationToken.None);
            await table.StartAsync();
            etag = await table.UpsertRow(Entry(grainId, "tick", TimeSpan.FromHours(1)));
            await storage.WriteStateAsync("probe", grainId, new GrainState<ProbeState>(new ProbeState { Value = "beside reminders" }));
            await table.StopAsync();
        }

        SqliteConnection.ClearAllPools();
        using var reopened = _files.CreateReminderTable();
        var row = await reopened.ReadRow(grainId, "tick");

        Assert.NotNull(row);
        Assert.Equal(etag, row.ETag);
        Assert.Equal(TimeSpan.FromHours(1), row.Period);
        Assert.Equal(StartAt, row.StartAt);
    }

    private static GrainId NewGrainId() => GrainId.Create("probe", Guid.NewGuid().ToString("N"));

    private static ReminderEntry Entry(GrainId grainId, string name, TimeSpan period) => new()
    {
        GrainId = grainId,
        ReminderName = name,
        StartAt = StartAt,
        Period = period,
    };
}
