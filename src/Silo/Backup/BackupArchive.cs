using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using MetaNode.Backup;
using MetaNode.Silo.Hosting;

namespace MetaNode.Silo.Backup;

/// <summary>A backup archive that is not what it should be (damaged, truncated, changed, or of another format); nothing was restored.</summary>
public sealed class InvalidBackupException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The backup file: a gzip-compressed tar archive whose first entry is <c>manifest.json</c> (<see cref="BackupManifest"/>), then
/// every file the manifest lists, by its path relative to the data directory. Reading checks the format, every path, size and
/// SHA-256, and that nothing is missing or extra, before anything is moved out of the staging directory it extracts to.
/// </summary>
public static class BackupArchive
{
    public const string ManifestEntry = "manifest.json";

    /// <summary>The most a manifest may take; one entry is about 150 bytes.</summary>
    public const int MaxManifestBytes = 1 << 20;

    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// Writes the archive of the files <paramref name="paths"/> (relative to <paramref name="root"/>, with <c>/</c>) to
    /// <paramref name="output"/>: the manifest with each file's size and SHA-256, then the files. Returns the manifest written.
    /// </summary>
    public static async Task<BackupManifest> WriteAsync(Stream output, BackupManifest header, string root, IReadOnlyList<string> paths, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(header);
        var entries = new List<BackupEntry>();
        foreach (var path in paths)
        {
            if (BackupPaths.Check(path) is { } problem)
            {
                throw new ArgumentException($"'{path}' cannot go into a backup: {problem}", nameof(paths));
            }

            await using var file = File.OpenRead(Path.Combine(root, path));
            entries.Add(new BackupEntry { Path = path, Bytes = file.Length, Sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken).ConfigureAwait(false)) });
        }

        var manifest = header with { Format = BackupManifest.FormatName, Version = BackupManifest.CurrentVersion, Entries = entries };
        await using var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true);
        await using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
        {
            var manifestBytes = JsonSerializer.SerializeToUtf8Bytes(manifest, Json);
            await WriteEntryAsync(tar, ManifestEntry, new MemoryStream(manifestBytes), manifest.CreatedAt, cancellationToken).ConfigureAwait(false);
            foreach (var entry in entries)
            {
                await using var file = File.OpenRead(Path.Combine(root, entry.Path));
                if (file.Length != entry.Bytes)
                {
                    throw new IOException($"'{entry.Path}' changed while the backup was written.");
                }

                await WriteEntryAsync(tar, entry.Path, file, manifest.CreatedAt, cancellationToken).ConfigureAwait(false);
            }
        }

        return manifest;
    }

    /// <summary>
    /// Reads a backup archive into <paramref name="staging"/> (created, private), checking everything; returns its manifest.
    /// Throws <see cref="InvalidBackupException"/> saying what is wrong; the caller deletes the staging directory then.
    /// </summary>
    public static async Task<BackupManifest> ExtractAsync(Stream input, string staging, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        SiloDataDirectory.MakePrivate(staging);
        try
        {
            await using var gzip = new GZipStream(input, CompressionMode.Decompress, leaveOpen: true);
            await using var counted = new CountingStream(gzip);
            await using var tar = new TarReader(counted, leaveOpen: true);
            var first = await tar.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidBackupException("it holds no entries (an empty or truncated file).");
            var manifest = await ReadManifestAsync(first, cancellationToken).ConfigureAwait(false);
            var expected = manifest.Entries.ToDictionary(e => e.Path, StringComparer.Ordinal);
            while (await tar.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
            {
                if (!expected.Remove(entry.Name, out var listed))
                {
                    throw new InvalidBackupException($"the entry '{entry.Name}' is not in its manifest, or comes twice.");
                }

                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null)
                {
                    throw new InvalidBackupException($"the entry '{entry.Name}' is not a regular file.");
                }

                if (entry.Length != listed.Bytes)
                {
                    throw new InvalidBackupException($"the entry '{entry.Name}' has {entry.Length} bytes; its manifest says {listed.Bytes}.");
                }

                await ExtractEntryAsync(entry.DataStream, listed, staging, cancellationToken).ConfigureAwait(false);
            }

            if (expected.Count > 0)
            {
                throw new InvalidBackupException($"it ends before {string.Join(", ", expected.Keys.Order(StringComparer.Ordinal))} (a truncated file?).");
            }

            // The rest: the end of the tar archive, then gzip's trailer, whose length field a file cut short in its last bytes lacks.
            await counted.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
            if (input.CanSeek && await TrailerLengthAsync(input, cancellationToken).ConfigureAwait(false) is var length && length != (uint)counted.Total)
            {
                throw new InvalidBackupException($"it is truncated or has bytes appended: its gzip trailer says {length} bytes (modulo 2^32), but it holds {counted.Total}.");
            }

            return manifest;
        }
        catch (Exception exception) when (exception is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new InvalidBackupException($"it is damaged or truncated: {exception.Message}", exception);
        }
    }

    /// <summary>The last four bytes of a gzip file: the uncompressed length modulo 2^32 (little-endian).</summary>
    private static async Task<uint> TrailerLengthAsync(Stream input, CancellationToken cancellationToken)
    {
        if (input.Length < 4)
        {
            return uint.MaxValue;
        }

        var trailer = new byte[4];
        input.Seek(-4, SeekOrigin.End);
        await input.ReadExactlyAsync(trailer, cancellationToken).ConfigureAwait(false);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(trailer);
    }

    private static async Task WriteEntryAsync(TarWriter tar, string name, Stream data, DateTimeOffset time, CancellationToken cancellationToken)
    {
        var entry = new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = data,
            Mode = PrivateFile,
            ModificationTime = time,
        };
        await tar.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<BackupManifest> ReadManifestAsync(TarEntry entry, CancellationToken cancellationToken)
    {
        if (entry.Name != ManifestEntry || entry.DataStream is null)
        {
            throw new InvalidBackupException($"its first entry is '{entry.Name}', not {ManifestEntry}: it is not a MetaNode backup.");
        }

        if (entry.Length > MaxManifestBytes)
        {
            throw new InvalidBackupException($"its manifest has {entry.Length} bytes, more than {MaxManifestBytes}.");
        }

        using var buffer = new MemoryStream();
        await entry.DataStream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        BackupManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<BackupManifest>(buffer.ToArray(), Json);
        }
        catch (JsonException exception)
        {
            throw new InvalidBackupException($"its manifest is not valid: {exception.Message}", exception);
        }

        var problem = manifest is null ? "it is empty" : CheckManifest(manifest);
        if (problem is not null)
        {
            throw new InvalidBackupException($"its manifest is not valid: {problem}.");
        }

        return manifest!;
    }

    /// <summary>Null when the manifest is one this version restores; else what is wrong with it.</summary>
    public static string? CheckManifest(BackupManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        if (manifest.Format != BackupManifest.FormatName)
        {
            return $"format '{manifest.Format}' is not {BackupManifest.FormatName}";
        }

        if (manifest.Version != BackupManifest.CurrentVersion)
        {
            return $"format version {manifest.Version} is not {BackupManifest.CurrentVersion}, the one this silo restores";
        }

        if (string.IsNullOrWhiteSpace(manifest.ClusterId) || string.IsNullOrWhiteSpace(manifest.ServiceId))
        {
            return "it names no cluster or service id";
        }

        if (manifest.Entries is null || manifest.Entries.Count == 0)
        {
            return "it lists no files";
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in manifest.Entries)
        {
            if (BackupPaths.Check(entry.Path) is { } problem)
            {
                return $"entry '{entry.Path}': {problem}";
            }

            if (!seen.Add(entry.Path))
            {
                return $"entry '{entry.Path}' is listed twice";
            }

            if (entry.Bytes < 0 || entry.Sha256 is not { Length: 64 } || !entry.Sha256.All(char.IsAsciiHexDigitLower))
            {
                return $"entry '{entry.Path}' has no valid size and SHA-256";
            }
        }

        return seen.Contains(BackupPaths.Database) ? null : $"it holds no {BackupPaths.Database}";
    }

    private static async Task ExtractEntryAsync(Stream data, BackupEntry listed, string staging, CancellationToken cancellationToken)
    {
        var target = Path.Combine(staging, listed.Path);
        var directory = Path.GetDirectoryName(target)!;
        SiloDataDirectory.MakePrivate(directory);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = PrivateFile;
        }

        long total = 0;
        await using (var file = new FileStream(target, options))
        {
            var buffer = new byte[81920];
            int read;
            while ((read = await data.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                total += read;
            }
        }

        var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (total != listed.Bytes || actual != listed.Sha256)
        {
            throw new InvalidBackupException($"'{listed.Path}' does not match its manifest (SHA-256 {actual} over {total} bytes; the manifest says {listed.Sha256} over {listed.Bytes}): the file was changed or damaged.");
        }
    }
}

/// <summary>Which paths (relative to the data directory) a backup may hold: the database, the dev chain's two files, <c>tls/*</c> and <c>identities/*/*</c>.</summary>
public static class BackupPaths
{
    public const string Database = "metanode.db";
    public const string ChainState = "chain/anvil-state.json";
    public const string ChainInfo = "chain/devchain.json";
    public const string Tls = "tls";
    public const string Identities = "identities";

    /// <summary>Null when <paramref name="path"/> is one a backup may hold and a restore may write; else why not.</summary>
    public static string? Check(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return "an empty path";
        }

        var segments = path.Split('/');
        if (segments.Any(s => s.Length == 0 || s.Length > 128 || s[0] == '.' || !s.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' || c is '_' || c is '-')))
        {
            return "each part of a path must be letters, digits, '.', '_' or '-', not starting with '.'";
        }

        return path is Database or ChainState or ChainInfo
            || (segments.Length == 2 && segments[0] == Tls)
            || (segments.Length == 3 && segments[0] == Identities)
            ? null
            : $"only {Database}, {ChainState}, {ChainInfo}, {Tls}/<file> and {Identities}/<name>/<file> are backed up";
    }
}

/// <summary>A read-only stream over another that counts the bytes read through it.</summary>
internal sealed class CountingStream(Stream inner) : Stream
{
    public long Total { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => Total; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Counted(inner.Read(buffer, offset, count));

    public override int Read(Span<byte> buffer) => Counted(inner.Read(buffer));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Counted(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private int Counted(int read)
    {
        Total += read;
        return read;
    }
}
