using System.Security.Cryptography;
using MetaNode.Backup;

namespace MetaNode.Client;

public sealed partial class MetaNodeClient
{
    /// <summary>
    /// Has the silo take a backup, reads it in chunks of <see cref="BackupKeys.MaxChunkBytes"/> into <paramref name="destination"/>,
    /// checks its size and SHA-256 against what the silo reported, and releases the silo's copy (also on failure).
    /// </summary>
    /// <exception cref="InvalidOperationException">The silo cannot take backups (the cluster profile), or the copy does not match.</exception>
    public async Task<BackupTicket> CopyBackupAsync(Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var grain = _grainFactory.GetGrain<IBackupGrain>(BackupKeys.Default);
        var ticket = await grain.CreateAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long offset = 0;
            while (offset < ticket.Bytes)
            {
                var chunk = await grain.ReadAsync(ticket.Id, offset, BackupKeys.MaxChunkBytes, cancellationToken).ConfigureAwait(false);
                if (chunk.Length == 0)
                {
                    break;
                }

                hash.AppendData(chunk);
                await destination.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
                offset += chunk.Length;
            }

            var sha256 = Convert.ToHexStringLower(hash.GetHashAndReset());
            if (offset != ticket.Bytes || sha256 != ticket.Sha256)
            {
                throw new InvalidOperationException($"the backup arrived damaged: {offset} bytes with SHA-256 {sha256}, where the silo wrote {ticket.Bytes} bytes with SHA-256 {ticket.Sha256}.");
            }

            return ticket;
        }
        finally
        {
            await grain.ReleaseAsync(ticket.Id, CancellationToken.None).ConfigureAwait(false);
        }
    }
}
