using MetaNode.Silo.Persistence;
using MetaNode.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Orleans.TestingHost;

namespace MetaNode.Tests.Persistence;

/// <summary>The embedded profile end to end: grains persisting state and reminders in one SQLite file.</summary>
public sealed class SqliteClusterTests : IDisposable
{
    private const string DatabaseFile = "embedded.db";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private readonly SqliteTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task GrainState_SurvivesDeactivationAndAClusterRestart_WithSqliteStorage()
    {
        var serviceId = "embedded-" + Guid.NewGuid().ToString("N")[..8];
        var key = "state-" + Guid.NewGuid().ToString("N");
        ProbeSnapshot before;
        await using (var cluster = await StartClusterAsync(serviceId))
        {
            var grain = cluster.Client.GetGrain<IProbeGrain>(key);
            await grain.SetAsync("embedded");
            before = await grain.GetAsync();
            await cluster.DeactivateAsync(grain);

            var after = await grain.GetAsync();
            Assert.NotEqual(before.ActivationId, after.ActivationId);
            Assert.Equal("embedded", after.Value);
            Assert.True(after.RecordExists);
            Assert.Equal(before.ETag, after.ETag);

            var silo = cluster.GetSiloServiceProvider();
            Assert.IsType<SqliteGrainStorage>(silo.GetRequiredKeyedService<IGrainStorage>(ProbeStorage.Name));
            Assert.IsType<SqliteGrainStorage>(silo.GetRequiredKeyedService<IGrainStorage>("Default"));
            Assert.IsType<SqliteReminderTable>(silo.GetRequiredService<IReminderTable>());
        }

        SqliteConnection.ClearAllPools();
        await using (var restarted = await StartClusterAsync(serviceId))
        {
            var grain = restarted.Client.GetGrain<IProbeGrain>(key);
            var reloaded = await grain.GetAsync();
            Assert.Equal("embedded", reloaded.Value);
            Assert.Equal(before.ETag, reloaded.ETag);

            await grain.ClearAsync();
            await restarted.DeactivateAsync(grain);
            var cleared = await grain.GetAsync();
            Assert.False(cleared.RecordExists);
            Assert.Null(cleared.Value);
        }
    }

    [Fact]
    public async Task Reminder_IsStoredListedAndFires_WithTheSqliteReminderTable()
    {
        var serviceId = "embedded-" + Guid.NewGuid().ToString("N")[..8];
        var key = "reminder-" + Guid.NewGuid().ToString("N");
        await using var cluster = await StartClusterAsync(serviceId);
        var grain = cluster.Client.GetGrain<IProbeGrain>(key);

        await grain.RegisterReminderAsync("tick", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));

        Assert.Equal(["tick"], await grain.GetReminderNamesAsync());
        using (var table = _files.CreateReminderTable(DatabaseFile, serviceId))
        {
            var stored = await table.ReadRows(grain.GetGrainId());
            Assert.Equal(["tick"], stored.Reminders.Select(r => r.ReminderName));
            Assert.Equal(TimeSpan.FromSeconds(2), stored.Reminders[0].Period);
        }

        await Await.UntilAsync(async () => (await grain.GetAsync()).ReminderTicks >= 1, Timeout, "the reminder 'tick' to fire");
        await grain.UnregisterRemindersAsync();
        Assert.Empty(await grain.GetReminderNamesAsync());
    }

    private Task<InProcessTestCluster> StartClusterAsync(string serviceId)
    {
        var path = _files.PathOf(DatabaseFile);
        return new TestSiloBuilder()
            .WithoutFileLogging()
            .WithServiceId(serviceId)
            .ConfigureSilo(silo =>
            {
                silo.AddSqliteGrainStorage(ProbeStorage.Name, options => options.DatabasePath = path);
                silo.AddSqliteGrainStorageAsDefault(options => options.DatabasePath = path);
                silo.UseSqliteReminderService(options => options.DatabasePath = path);
                silo.Configure<ReminderOptions>(options => options.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
            })
            .StartAsync();
    }
}
