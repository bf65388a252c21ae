using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using MetaNode.Backup;
using MetaNode.Grains.Backup;
using MetaNode.Grains.Chain;
using MetaNode.Grains.Runtime.Process;
using MetaNode.Silo.Chain;
using MetaNode.Silo.Hosting;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace MetaNode.Silo.Backup;

public static class SiloBackupExtensions
{
    /// <summary>Backups of the embedded silo (<c>backup create</c>); the cluster profile registers none, and the backup grain says to use pg_dump.</summary>
    public static ISiloBuilder AddMetaNodeBackup(this ISiloBuilder silo, MetaNodeSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Profile == SiloProfile.Embedded)
        {
            silo.Services.AddSingleton<ISiloBackupSource>(sp => new SiloBackup(
                options,
                sp.GetService<DevChainHost>(),
                sp.GetRequiredService<ChainConnector>(),
                sp.GetRequiredService<IOptions<ProcessRuntimeOptions>>(),
                TimeProvider.System,
                sp.GetRequiredService<ILogger<SiloBackup>>()));
        }

        return silo;
    }
}

/// <summary>
/// A consistent backup of a running embedded silo: the SQLite database through SQLite's online backup (one snapshot of every
/// table: grain state, reminders, audit), then the dev chain's state as anvil dumps it, then the certificates and identities
/// of the data directory. The database is copied first, so the chain holds at least everything the copied state refers to: a
/// restored silo finds itself as one restarted after a crash at that moment, which it resumes from.
/// </summary>
public sealed partial class SiloBackup(
    MetaNodeSiloOptions options,
    DevChainHost? devChain,
    ChainConnector chain,
    IOptions<ProcessRuntimeOptions> processRuntime,
    TimeProvider time,
    ILogger<SiloBackup> logger) : ISiloBackupSource
{
    /// <summary>The folder of the data directory where backups are put together and held until read (deleted after).</summary>
    public const string StagingFolder = "backup-staging";

    private static readonly TimeSpan ChainTimeout = TimeSpan.FromMinutes(2);

    private string Staging => Path.Combine(options.DataDirectory, StagingFolder);

    public async Task<SiloBackupFile> CreateAsync(CancellationToken cancellationToken)
    {
        SiloDataDirectory.MakePrivate(Staging);
        var id = Guid.NewGuid().ToString("N");
        var root = Path.Combine(Staging, id);
        var archive = root + ".tar.gz";
        SiloDataDirectory.MakePrivate(root);
        try
        {
            var paths = new List<string>();
            await CopyDatabaseAsync(Path.Combine(options.DataDirectory, BackupPaths.Database), Path.Combine(root, BackupPaths.Database), cancellationToken).ConfigureAwait(false);
            paths.Add(BackupPaths.Database);
            var chainState = await CopyChainAsync(root, paths, cancellationToken).ConfigureAwait(false);
            foreach (var path in SecurityFiles(options.DataDirectory))
            {
                Copy(Path.Combine(options.DataDirectory, path), Path.Combine(root, path));
                paths.Add(path);
            }

            var header = new BackupManifest
            {
                Format = BackupManifest.FormatName,
                Version = BackupManifest.CurrentVersion,
                CreatedAt = time.GetUtcNow(),
                ClusterId = options.ClusterId,
                ServiceId = options.ServiceId,
                DataDirectory = options.DataDirectory,
                VPodsRoot = Path.GetFullPath(processRuntime.Value.DataDirectory),
                Chain = chainState,
                Entries = [],
            };
            BackupManifest manifest;
            await using (var output = new FileStream(archive, PrivateCreate()))
            {
                manifest = await BackupArchive.WriteAsync(output, header, root, paths, cancellationToken).ConfigureAwait(false);
                await output.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            LogWritten(logger, archive, manifest.Entries.Count, chainState?.BlockNumber);
            return new SiloBackupFile(archive, manifest);
        }
        catch
        {
            File.Delete(archive);
            throw;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    public void DeleteLeftovers()
    {
        if (!Directory.Exists(Staging))
        {
            return;
        }

        foreach (var entry in new DirectoryInfo(Staging).EnumerateFileSystemInfos())
        {
            try
            {
                if (entry is DirectoryInfo directory)
                {
                    directory.Delete(recursive: true);
                }
                else
                {
                    entry.Delete();
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                LogLeftoverKept(logger, entry.FullName, exception);
            }
        }
    }

    /// <summary>The files of the data directory's <c>tls/</c> and <c>identities/&lt;name&gt;/</c> folders, as backup paths.</summary>
    public static IReadOnlyList<string> SecurityFiles(string dataDirectory)
    {
        var paths = new List<string>();
        void Add(string directory, string prefix)
        {
            if (!Directory.Exists(directory))
            {
                return;
            }

            foreach (var file in Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
            {
                var path = prefix + "/" + Path.GetFileName(file);
                if (BackupPaths.Check(path) is null)
                {
                    paths.Add(path);
                }
            }
        }

        Add(Path.Combine(dataDirectory, BackupPaths.Tls), BackupPaths.Tls);
        var identities = Path.Combine(dataDirectory, BackupPaths.Identities);
        if (Directory.Exists(identities))
        {
            foreach (var identity in Directory.EnumerateDirectories(identities).Order(StringComparer.Ordinal))
            {
                Add(identity, BackupPaths.Identities + "/" + Path.GetFileName(identity));
            }
        }

        return paths;
    }

    /// <summary>SQLite's online backup: one consistent snapshot of the live database, while the silo keeps writing.</summary>
    private static async Task CopyDatabaseAsync(string source, string destination, CancellationToken cancellationToken)
    {
        if (!File.Exists(source))
        {
            throw new InvalidOperationException($"the silo's database {source} does not exist.");
        }

        SiloDataDirectory.MakePrivateFile(destination);
        await using (var from = new SqliteConnection(ConnectionString(source, SqliteOpenMode.ReadWrite)))
        await using (var to = new SqliteConnection(ConnectionString(destination, SqliteOpenMode.ReadWrite)))
        {
            await from.OpenAsync(cancellationToken).ConfigureAwait(false);
            await to.OpenAsync(cancellationToken).ConfigureAwait(false);
            from.BackupDatabase(to);

            // A single file, without a write-ahead log beside it; the silo that opens it turns WAL on again.
            await using var command = to.CreateCommand();
            command.CommandText = "PRAGMA journal_mode = DELETE; PRAGMA quick_check;";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            var check = await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? reader.GetString(0) : "no answer";
            if (check != "ok")
            {
                throw new InvalidOperationException($"the copy of the database fails SQLite's check: {check}");
            }
        }
    }

    private static string ConnectionString(string path, SqliteOpenMode mode) => new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = mode,
        Pooling = false,
        DefaultTimeout = 30,
    }.ToString();

    /// <summary>The dev chain's state (dumped from the running anvil, else its last state file) and what the data directory records about it.</summary>
    private async Task<BackupChainState?> CopyChainAsync(string root, List<string> paths, CancellationToken cancellationToken)
    {
        if (devChain is null)
        {
            return null;
        }

        var target = Path.Combine(root, BackupPaths.ChainState);
        SiloDataDirectory.MakePrivate(Path.GetDirectoryName(target)!);
        if (chain.Endpoint is { DevChain: true } endpoint)
        {
            await File.WriteAllBytesAsync(target, await DumpStateAsync(endpoint.RpcUrl, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        }
        else if (File.Exists(devChain.StateFile))
        {
            Copy(devChain.StateFile, target);
        }
        else
        {
            return null;
        }

        paths.Add(BackupPaths.ChainState);
        DevChainInfo? info = null;
        if (File.Exists(devChain.InfoFile))
        {
            Copy(devChain.InfoFile, Path.Combine(root, BackupPaths.ChainInfo));
            paths.Add(BackupPaths.ChainInfo);
            info = JsonSerializer.Deserialize<DevChainInfo>(await File.ReadAllBytesAsync(Path.Combine(root, BackupPaths.ChainInfo), cancellationToken).ConfigureAwait(false));
        }

        return new BackupChainState { ChainId = DevChainHost.ChainId, BlockNumber = BestBlock(await File.ReadAllBytesAsync(target, cancellationToken).ConfigureAwait(false)), Registry = info?.Registry };
    }

    /// <summary>
    /// <c>anvil_dumpState</c>: the chain's whole state at this moment, gzip-compressed JSON, which uncompressed is what anvil's
    /// <c>--state</c> file holds and loads at start.
    /// </summary>
    private static async Task<byte[]> DumpStateAsync(string rpcUrl, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = ChainTimeout };
        using var response = await http.PostAsJsonAsync(rpcUrl, new { jsonrpc = "2.0", id = 1, method = "anvil_dumpState", @params = Array.Empty<object>() }, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        using var document = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), cancellationToken: cancellationToken).ConfigureAwait(false);
        if (document.RootElement.TryGetProperty("error", out var error))
        {
            throw new InvalidOperationException($"the dev chain refused anvil_dumpState: {error}");
        }

        var hex = document.RootElement.GetProperty("result").GetString() ?? throw new InvalidOperationException("anvil_dumpState returned nothing.");
        var compressed = Convert.FromHexString(hex.StartsWith("0x", StringComparison.Ordinal) ? hex.AsSpan(2) : hex);
        await using var gzip = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
        using var state = new MemoryStream();
        await gzip.CopyToAsync(state, cancellationToken).ConfigureAwait(false);
        return state.ToArray();
    }

    /// <summary>The latest block of an anvil state file (<c>best_block_number</c>, hex or a number).</summary>
    public static long BestBlock(byte[] state)
    {
        using var document = JsonDocument.Parse(state);
        if (!document.RootElement.TryGetProperty("best_block_number", out var best))
        {
            throw new InvalidOperationException("the dev chain's state names no best_block_number.");
        }

        return best.ValueKind == JsonValueKind.Number
            ? best.GetInt64()
            : long.Parse(best.GetString()!.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
    }

    private static void Copy(string source, string destination)
    {
        SiloDataDirectory.MakePrivate(Path.GetDirectoryName(destination)!);
        File.Copy(source, destination);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(destination, SiloDataDirectory.FileMode);
        }
    }

    private static FileStreamOptions PrivateCreate()
    {
        var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            create.UnixCreateMode = SiloDataDirectory.FileMode;
        }

        return create;
    }
}
