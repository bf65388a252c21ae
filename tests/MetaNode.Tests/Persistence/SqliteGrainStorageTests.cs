using MetaNode.Grains.Runtime;
using MetaNode.Silo.Persistence;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace MetaNode.Tests.Persistence;

public sealed class SqliteGrainStorageTests : IDisposable
{
    private const string StateName = "probe";
    private readonly SqliteTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task WriteThenRead_RoundTripsStateAndETag_WhenTheRecordIsNew()
    {
        using var storage = _files.CreateStorage();
        var grainId = NewGrainId();
        var empty = new GrainState<ProbeState>();
        await storage.ReadStateAsync(StateName, grainId, empty);
        Assert.False(empty.RecordExists);
        Assert.Null(empty.ETag);
        Assert.NotNull(empty.State);

        var written = new GrainState<ProbeState>(new ProbeState { Value = "hello", Writes = 1 });
        await storage.WriteStateAsync(StateName, grainId, written);

        Assert.True(written.RecordExists);
        Assert.Equal("1", written.ETag);
        var read = new GrainState<ProbeState>();
        await storage.ReadStateAsync(StateName, grainId, read);
        Assert.True(read.RecordExists);
        Assert.Equal("1", read.ETag);
        Assert.Equal("hello", read.State!.Value);
        Assert.Equal(1, read.State!.Writes);

        read.State!.Value = "again";
        await storage.WriteStateAsync(StateName, grainId, read);
        Assert.Equal("2", read.ETag);
    }

    [Fact]
    public async Task Write_ThrowsInconsistentState_WhenTheETagIsStale()
    {
        using var storage = _files.CreateStorage();
        var grainId = NewGrainId();
        await storage.WriteStateAsync(StateName, grainId, new GrainState<ProbeState>(new ProbeState { Value = "v1" }));
        var first = new GrainState<ProbeState>();
        var second = new GrainState<ProbeState>();
        await storage.ReadStateAsync(StateName, grainId, first);
        await storage.ReadStateAsync(StateName, grainId, second);

        first.State!.Value = "v2";
        await storage.WriteStateAsync(StateName, grainId, first);
        second.State!.Value = "lost update";
        var stale = await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, grainId, second));
        var unaware = await Assert.ThrowsAsync<InconsistentStateException>(
            () => storage.WriteStateAsync(StateName, grainId, new GrainState<ProbeState>(new ProbeState { Value = "blind insert" })));

        Assert.Equal("2", stale.StoredEtag);
        Assert.Equal("1", stale.CurrentEtag);
        Assert.Equal("2", unaware.StoredEtag);
        var read = new GrainState<ProbeState>();
        await storage.ReadStateAsync(StateName, grainId, read);
        Assert.Equal("v2", read.State!.Value);
        Assert.Equal("2", read.ETag);
    }

    [Fact]
    public async Task ConcurrentWrites_WithTheSameETag_LetExactlyOneWin()
    {
        using var storage = _files.CreateStorage();
        var grainId = NewGrainId();
        await storage.WriteStateAsync(StateName, grainId, new GrainState<ProbeState>(new ProbeState { Value = "v1" }));

        var attempts = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            var state = new GrainState<ProbeState>(new ProbeState { Value = $"writer {i}" }) { ETag = "1" };
            try
            {
                await storage.WriteStateAsync(StateName, grainId, state);
                return state.State!.Value;
            }
            catch (InconsistentStateException)
            {
                return null;
            }
        })).ToArray();
        var winners = (await Task.WhenAll(attempts)).Where(v => v is not null).ToList();

        var winner = Assert.Single(winners);
        var read = await ReadAsync(storage, StateName, grainId);
        Assert.Equal(winner, read.State!.Value);
        Assert.Equal("2", read.ETag);
    }

    [Fact]
    public async Task Clear_RemovesThePayloadAndMovesTheETag_AndLaterWritesContinue()
    {
        using var storage = _files.CreateStorage();
        var grainId = NewGrainId();
        var state = new GrainState<ProbeState>(new ProbeState { Value = "to clear" });
        await storage.WriteStateAsync(StateName, grainId, state);

        await storage.ClearStateAsync(StateName, grainId, state);

        Assert.False(state.RecordExists);
        Assert.Equal("2", state.ETag);
        Assert.Null(state.State!.Value);
        var read = new GrainState<ProbeState>();
        await storage.ReadStateAsync(StateName, grainId, read);
        Assert.False(read.RecordExists);
        Assert.Equal("2", read.ETag);
        Assert.Null(read.State!.Value);

        read.State!.Value = "after clear";
        await storage.WriteStateAsync(StateName, grainId, read);
        Assert.Equal("3", read.ETag);
        Assert.True(read.RecordExists);
    }

    [Fact]
    public async Task Clear_ThrowsInconsistentState_WhenTheETagIsStale_AndDoesNothingWhenNothingIsStored()
    {
        using var storage = _files.CreateStorage();
        var grainId = NewGrainId();
        var nothing = new GrainState<ProbeState>();
        await storage.ClearStateAsync(StateName, grainId, nothing);
        Assert.False(nothing.RecordExists);
        Assert.Null(nothing.ETag);

        var state = new GrainState<ProbeState>(new ProbeState { Value = "v1" });
        await storage.WriteStateAsync(StateName, grainId, state);
        var stale = new GrainState<ProbeState> { ETag = state.ETag };
        state.State!.Value = "v2";
        await storage.WriteStateAsync(StateName, grainId, state);

        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync(StateName, grainId, stale));
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync(StateName, grainId, new GrainState<ProbeState>()));
        var read = new GrainState<ProbeState>();
        await storage.ReadStateAsync(StateName, grainId, read);
        Assert.Equal("v2", read.State!.Value);
    }

    [Fact]
    public async Task State_SurvivesDisposingAndReopeningTheFile()
    {
        var grainId = NewGrainId();
        using (var storage = _files.CreateStorage())
        {
            await storage.InitializeAsync(CancellationToken.None);
            await storage.WriteStateAsync(StateName, grainId, new GrainState<ProbeState>(new ProbeState { Value = "durable", Writes = 3 }));
        }

        SqliteConnection.ClearAllPools();
        using var reopened = _files.CreateStorage();
        var read = new GrainState<ProbeState>();
        await reopened.ReadStateAsync(StateName, grainId, read);

        Assert.True(read.RecordExists);
        Assert.Equal("durable", read.State!.Value);
        Assert.Equal(3, read.State!.Writes);
        Assert.Equal("1", read.ETag);
    }

    [Fact]
    public async Task Records_AreKeptApart_ByServiceStateNameAndGrain()
    {
        using var serviceA = _files.CreateStorage(serviceId: "service-a");
        using var serviceB = _files.CreateStorage(serviceId: "service-b");
        var grainId = NewGrainId();
        var otherGrain = NewGrainId();

        await serviceA.WriteStateAsync(StateName, grainId, new GrainState<ProbeState>(new ProbeState { Value = "a" }));
        await serviceB.WriteStateAsync(StateName, grainId, new GrainState<ProbeState>(new ProbeState { Value = "b" }));
        await serviceA.WriteStateAsync("other-state", grainId, new GrainState<ProbeState>(new ProbeState { Value = "other state" }));

        Assert.Equal("a", (await ReadAsync(serviceA, StateName, grainId)).State!.Value);
        Assert.Equal("b", (await ReadAsync(serviceB, StateName, grainId)).State!.Value);
        Assert.Equal("other state", (await ReadAsync(serviceA, "other-state", grainId)).State!.Value);
        Assert.False((await ReadAsync(serviceA, StateName, otherGrain)).RecordExists);
    }

    [Fact]
    public async Task Initialize_CreatesTheFileInWalMode_AndRunsAgainWithoutError()
    {
        var path = _files.PathOf(Path.Combine("nested", "dir", "state.db"));
        using (var first = CreateStorage("one", path))
        using (var second = CreateStorage("two", path))
        {
            await Task.WhenAll(first.InitializeAsync(CancellationToken.None), second.InitializeAsync(CancellationToken.None));
            await first.InitializeAsync(CancellationToken.None);
            Assert.Equal(Path.GetFullPath(path), first.DatabasePath);
        }

        SqliteConnection.ClearAllPools();
        await using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode; PRAGMA user_version; SELECT count(*) FROM sqlite_schema WHERE type = 'table';";
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("wal", reader.GetString(0));
        Assert.True(await reader.NextResultAsync() && await reader.ReadAsync());
        Assert.Equal(1L, reader.GetInt64(0));
        Assert.True(await reader.NextResultAsync() && await reader.ReadAsync());
        Assert.Equal(2L, reader.GetInt64(0));
    }

    [Theory]
    [InlineData("", "00:00:30", "MetaNode:Persistence:Sqlite:DatabasePath", "''")]
    [InlineData(":memory:", "00:00:30", "MetaNode:Persistence:Sqlite:DatabasePath", "':memory:'")]
    [InlineData("state.db", "00:00:00", "MetaNode:Persistence:Sqlite:BusyTimeout", "'00:00:00'")]
    [InlineData("state.db", "-00:00:01", "MetaNode:Persistence:Sqlite:BusyTimeout", "'-00:00:01'")]
    public void Validate_NamesTheKeyAndTheBadValue_WhenOptionsAreInvalid(string path, string busyTimeout, string key, string quotedValue)
    {
        var options = new SqliteStorageOptions { DatabasePath = path, BusyTimeout = TimeSpan.Parse(busyTimeout, System.Globalization.CultureInfo.InvariantCulture) };

        var result = new SqliteStorageOptionsValidator().Validate("probe-store", options);

        Assert.True(result.Failed);
        var failure = Assert.Single(result.Failures!);
        Assert.Contains(key, failure, StringComparison.Ordinal);
        Assert.Contains(quotedValue, failure, StringComparison.Ordinal);
        Assert.Contains("probe-store", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_RejectsADirectory_AndAcceptsAFilePath()
    {
        var validator = new SqliteStorageOptionsValidator();

        var directory = validator.Validate(null, new SqliteStorageOptions { DatabasePath = _files.Directory });
        var file = validator.Validate(null, new SqliteStorageOptions { DatabasePath = _files.PathOf("state.db") });

        Assert.Contains(_files.Directory, Assert.Single(directory.Failures!), StringComparison.Ordinal);
        Assert.True(file.Succeeded);
    }

    [Fact]
    public void SiloBuilderExtensions_RegisterNamedDefaultAndReminderServices()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering();
            silo.AddSqliteGrainStorage("named", options => options.DatabasePath = _files.PathOf("named.db"));
            silo.AddSqliteGrainStorageAsDefault(options => options.DatabasePath = _files.PathOf("default.db"));
            silo.UseSqliteReminderService(options => options.DatabasePath = _files.PathOf("reminders.db"));
        });
        using var host = builder.Build();

        var named = Assert.IsType<SqliteGrainStorage>(host.Services.GetRequiredKeyedService<IGrainStorage>("named"));
        var byDefault = Assert.IsType<SqliteGrainStorage>(host.Services.GetRequiredKeyedService<IGrainStorage>("Default"));
        var reminders = Assert.IsType<SqliteReminderTable>(host.Services.GetRequiredService<IReminderTable>());
        Assert.Equal(_files.PathOf("named.db"), named.DatabasePath);
        Assert.Equal(_files.PathOf("default.db"), byDefault.DatabasePath);
        Assert.Same(byDefault, host.Services.GetRequiredService<IGrainStorage>());
        Assert.Equal(_files.PathOf("reminders.db"), reminders.DatabasePath);
        Assert.Contains(host.Services.GetServices<ILifecycleParticipant<ISiloLifecycle>>(), p => ReferenceEquals(p, named));
    }

    [Fact]
    public async Task SiloStart_FailsNamingTheKey_WhenStorageOptionsAreInvalid()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(siloPort: LoopbackPorts.Free(), gatewayPort: LoopbackPorts.Free());
            silo.AddSqliteGrainStorage("broken", options => options.DatabasePath = string.Empty);
        });
        using var host = builder.Build();

        var invalid = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("MetaNode:Persistence:Sqlite:DatabasePath (store 'broken')", invalid.Message, StringComparison.Ordinal);
    }

    private static SqliteGrainStorage CreateStorage(string name, string path) => new(
        name,
        new SqliteStorageOptions { DatabasePath = path, GrainStorageSerializer = SqliteTestFiles.StateSerializer },
        "svc",
        SqliteTestFiles.Activators,
        NullLogger<SqliteGrainStorage>.Instance);

    private static GrainId NewGrainId() => GrainId.Create("probe", Guid.NewGuid().ToString("N"));

    private static async Task<GrainState<ProbeState>> ReadAsync(SqliteGrainStorage storage, string stateName, GrainId grainId)
    {
        var state = new GrainState<ProbeState>();
        await storage.ReadStateAsync(stateName, grainId, state);
        return state;
    }
}
