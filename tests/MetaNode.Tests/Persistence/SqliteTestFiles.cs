using MetaNode.Silo.Persistence;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace MetaNode.Tests.Persistence;

/// <summary>A temporary directory for SQLite files, deleted (after closing pooled connections) on dispose.</summary>
internal sealed class SqliteTestFiles : IDisposable
{
    private static readonly Lazy<ServiceProvider> Serialization = new(() => new ServiceCollection()
        .AddSerializer(builder => builder.AddAssembly(typeof(ProbeState).Assembly))
        .BuildServiceProvider());

    public SqliteTestFiles()
    {
        Directory = Path.Combine(Path.GetTempPath(), "metanode-sqlite-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    public static IActivatorProvider Activators => Serialization.Value.GetRequiredService<IActivatorProvider>();

    public static IGrainStorageSerializer StateSerializer =>
        new OrleansGrainStorageSerializer(Serialization.Value.GetRequiredService<Serializer>());

    public string PathOf(string fileName) => Path.Combine(Directory, fileName);

    public SqliteGrainStorage CreateStorage(string fileName = "state.db", string serviceId = "service-a", string name = "test-store") =>
        new(
            name,
            new SqliteStorageOptions { DatabasePath = PathOf(fileName), GrainStorageSerializer = StateSerializer },
            serviceId,
            Activators,
            NullLogger<SqliteGrainStorage>.Instance);

    public SqliteReminderTable CreateReminderTable(string fileName = "state.db", string serviceId = "service-a") =>
        new(new SqliteStorageOptions { DatabasePath = PathOf(fileName) }, serviceId, NullLogger<SqliteReminderTable>.Instance);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}
