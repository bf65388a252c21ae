using System.Security.Cryptography;
using MetaNode.Backup;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Backup;

/// <summary>
/// Takes a consistent backup of this silo's state into a private file of its own. The embedded silo registers one; the cluster
/// profile, whose state is in PostgreSQL, registers none.
/// </summary>
public interface ISiloBackupSource
{
    /// <summary>Writes a backup archive into a new file only the silo's user can read, and returns it with its manifest.</summary>
    Task<SiloBackupFile> CreateAsync(CancellationToken cancellationToken);

    /// <summary>Deletes backup files a silo left behind (it stopped while a backup was held).</summary>
    void DeleteLeftovers();
}

/// <summary>A backup archive a <see cref="ISiloBackupSource"/> wrote.</summary>
public sealed record SiloBackupFile(string Path, BackupManifest Manifest);

/// <summary>
/// Backups for <c>metanode-cli backup create</c>: the silo writes the archive to a file, the caller reads it in chunks well under
/// the gateway's message size limit and releases it. A held backup is deleted after <see cref="IdleLimit"/> without a read, and
/// when the grain is deactivated.
/// </summary>
[GrainType("backup")]
public sealed partial class BackupGrain(IServiceProvider services, TimeProvider time, ILogger<BackupGrain> logger) : Grain, IBackupGrain
{
    /// <summary>What the cluster profile answers: its state is not in the silo's data directory.</summary>
    public const string ClusterProfileRefusal =
        "this cluster keeps its state in PostgreSQL (the cluster profile): back it up with pg_dump and restore it with pg_restore " +
        "as README.md's 'Backups' section shows; the certificate files MetaNode:Tls names are kept where they came from (e.g. a Kubernetes Secret).";

    public static readonly TimeSpan IdleLimit = TimeSpan.FromMinutes(10);

    private readonly Dictionary<string, Held> _held = new(StringComparer.Ordinal);
    private IGrainTimer? _sweep;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Nothing is held by a new activation: whatever a source's folder still has was left by a silo that stopped.
        services.GetService<ISiloBackupSource>()?.DeleteLeftovers();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        foreach (var id in _held.Keys.ToList())
        {
            Delete(id);
        }

        return Task.CompletedTask;
    }

    public async Task<BackupTicket> CreateAsync(CancellationToken cancellationToken = default)
    {
        var source = services.GetService<ISiloBackupSource>() ?? throw new InvalidOperationException(ClusterProfileRefusal);
        var file = await source.CreateAsync(cancellationToken);
        string sha256;
        long bytes;
        await using (var stream = File.OpenRead(file.Path))
        {
            sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken));
            bytes = stream.Length;
        }

        var id = Guid.NewGuid().ToString("N");
        _held[id] = new Held(file.Path, time.GetUtcNow());
        _sweep ??= this.RegisterGrainTimer(SweepAsync, new GrainTimerCreationOptions(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1)) { KeepAlive = true });
        LogCreated(logger, id, bytes, file.Manifest.Entries.Count, file.Manifest.Chain?.BlockNumber);
        return new BackupTicket { Id = id, Bytes = bytes, Sha256 = sha256, Manifest = file.Manifest };
    }

    public async Task<byte[]> ReadAsync(string backupId, long offset, int count, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        if (backupId is null || !_held.TryGetValue(backupId, out var held))
        {
            throw new InvalidOperationException($"no backup '{backupId}' is held here: it was released, or deleted after {IdleLimit.TotalMinutes:0} minutes unread, or the silo restarted. Take another.");
        }

        _held[backupId] = held with { LastUsed = time.GetUtcNow() };
        using var handle = File.OpenHandle(held.Path);
        var length = RandomAccess.GetLength(handle);
        if (offset >= length)
        {
            return [];
        }

        var buffer = new byte[(int)Math.Min(Math.Min(count, BackupKeys.MaxChunkBytes), length - offset)];
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = await RandomAccess.ReadAsync(handle, buffer.AsMemory(filled), offset + filled, cancellationToken);
            if (read == 0)
            {
                break;
            }

            filled += read;
        }

        return filled == buffer.Length ? buffer : buffer[..filled];
    }

    public Task ReleaseAsync(string backupId, CancellationToken cancellationToken = default)
    {
        if (backupId is not null && _held.ContainsKey(backupId))
        {
            Delete(backupId);
        }

        return Task.CompletedTask;
    }

    private Task SweepAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var (id, held) in _held.Where(h => now - h.Value.LastUsed > IdleLimit).ToList())
        {
            LogExpired(logger, id, held.Path);
            Delete(id);
        }

        if (_held.Count == 0)
        {
            _sweep?.Dispose();
            _sweep = null;
        }

        return Task.CompletedTask;
    }

    private void Delete(string id)
    {
        if (_held.Remove(id, out var held))
        {
            try
            {
                File.Delete(held.Path);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                LogDeleteFailed(logger, held.Path, exception);
            }
        }
    }

    private sealed record Held(string Path, DateTimeOffset LastUsed);
}
