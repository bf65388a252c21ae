using Orleans.Storage;

namespace MetaNode.Silo.Persistence;

/// <summary>
/// Settings of the embedded profile's SQLite store, used by <see cref="SqliteGrainStorage"/> and
/// <see cref="SqliteReminderTable"/>. Grain storage and reminders may share one database file.
/// </summary>
public sealed class SqliteStorageOptions : IStorageProviderSerializerOptions
{
    /// <summary>The configuration section these options are usually bound from.</summary>
    public const string SectionName = "MetaNode:Persistence:Sqlite";

    /// <summary>The default <see cref="BusyTimeout"/>.</summary>
    public static readonly TimeSpan DefaultBusyTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Path of the database file. Relative paths are resolved against the current directory; a missing
    /// directory is created. The file is opened in WAL mode.
    /// </summary>
    public string DatabasePath { get; set; } = string.Empty;

    /// <summary>How long a statement waits for another writer to release the database before failing.</summary>
    public TimeSpan BusyTimeout { get; set; } = DefaultBusyTimeout;

    /// <summary>The silo lifecycle stage at which grain storage opens the database and creates its schema.</summary>
    public int InitStage { get; set; } = ServiceLifecycleStage.ApplicationServices;

    /// <summary>
    /// Serializer for grain state. When left unset, the silo's default <see cref="IGrainStorageSerializer"/>
    /// (the one keyed by the provider name, if any) is used.
    /// </summary>
    public IGrainStorageSerializer GrainStorageSerializer { get; set; } = null!;
}
