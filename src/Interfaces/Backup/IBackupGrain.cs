using MetaNode.Security;

namespace MetaNode.Backup;

/// <summary>
/// Consistent backups of a running embedded silo (<c>metanode-cli backup create</c>): its database, the dev chain's state and its
/// certificates and keys. The archive holds the CA's private key, so every method is for admins only. The cluster profile keeps
/// its state in PostgreSQL and is backed up with <c>pg_dump</c>; there <see cref="CreateAsync"/> refuses.
/// </summary>
[Alias("MetaNode.Backup.IBackupGrain")]
[RequiresRole(AccessRole.Admin)]
public interface IBackupGrain : IGrainWithStringKey
{
    /// <summary>Takes a backup into a file the silo keeps until it is released (or the grain is deactivated); returns how to read it.</summary>
    [Alias("Create"), RequiresRole(AccessRole.Admin, Mutates = true)]
    Task<BackupTicket> CreateAsync(CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="count"/> bytes (at most <see cref="BackupKeys.MaxChunkBytes"/>) of the backup from <paramref name="offset"/>; empty at its end.</summary>
    [Alias("Read")]
    Task<byte[]> ReadAsync(string backupId, long offset, int count, CancellationToken cancellationToken = default);

    /// <summary>Deletes the silo's copy of the backup; releasing an unknown id does nothing.</summary>
    [Alias("Release")]
    Task ReleaseAsync(string backupId, CancellationToken cancellationToken = default);
}
