namespace MetaNode.Backup;

/// <summary>
/// What a backup archive holds, as its <c>manifest.json</c> (its first entry) says: the format, when and of which silo it was
/// taken, and every file with its size and SHA-256. A restore checks every entry against it before it writes anything.
/// </summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Backup.BackupManifest")]
public sealed record BackupManifest
{
    public const string FormatName = "metanode-backup";
    public const int CurrentVersion = 1;

    /// <summary>Always <see cref="FormatName"/>.</summary>
    [Id(0)] public required string Format { get; init; }

    /// <summary>The format's version; a restore refuses versions it does not know.</summary>
    [Id(1)] public required int Version { get; init; }

    [Id(2)] public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>The Orleans cluster id of the silo the backup was taken of.</summary>
    [Id(3)] public required string ClusterId { get; init; }

    /// <summary>The Orleans service id: grain state and reminders are stored under it, so a restore needs the same one.</summary>
    [Id(4)] public required string ServiceId { get; init; }

    /// <summary>The silo's data directory when the backup was taken.</summary>
    [Id(5)] public string? DataDirectory { get; init; }

    /// <summary>The process runtime's root (<c>vpods/&lt;id&gt;/…</c>, the vPods' own data and keys), which the backup does not hold.</summary>
    [Id(6)] public string? VPodsRoot { get; init; }

    /// <summary>The dev chain as its state was dumped, or null when the silo ran none.</summary>
    [Id(7)] public BackupChainState? Chain { get; init; }

    /// <summary>Every file of the archive besides the manifest, by its path relative to the data directory.</summary>
    [Id(8)] public required IReadOnlyList<BackupEntry> Entries { get; init; }
}

/// <summary>One file of a backup: its path relative to the data directory (with <c>/</c>), its size and its SHA-256 (lower-case hex).</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Backup.BackupEntry")]
public sealed record BackupEntry
{
    [Id(0)] public required string Path { get; init; }
    [Id(1)] public required long Bytes { get; init; }
    [Id(2)] public required string Sha256 { get; init; }
}

/// <summary>The dev chain a backup holds the state of.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Backup.BackupChainState")]
public sealed record BackupChainState
{
    [Id(0)] public long ChainId { get; init; }

    /// <summary>The latest block of the dumped state.</summary>
    [Id(1)] public long BlockNumber { get; init; }

    /// <summary>The ResultRegistry the data directory records (<c>chain/devchain.json</c>), if any.</summary>
    [Id(2)] public string? Registry { get; init; }
}

/// <summary>A backup a silo made and holds for the caller to read (<see cref="IBackupGrain.ReadAsync"/>) and then release.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Backup.BackupTicket")]
public sealed record BackupTicket
{
    [Id(0)] public required string Id { get; init; }

    /// <summary>The archive's size.</summary>
    [Id(1)] public required long Bytes { get; init; }

    /// <summary>The SHA-256 of the whole archive (lower-case hex), for the reader to check what it assembled.</summary>
    [Id(2)] public required string Sha256 { get; init; }

    [Id(3)] public required BackupManifest Manifest { get; init; }
}

public static class BackupKeys
{
    /// <summary>The key of the one backup grain.</summary>
    public const string Default = "default";

    /// <summary>The most a single <see cref="IBackupGrain.ReadAsync"/> returns (well under the gateway's message size limit).</summary>
    public const int MaxChunkBytes = 4 << 20;
}
