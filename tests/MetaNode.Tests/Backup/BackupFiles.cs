using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MetaNode.Backup;
using MetaNode.Silo.Backup;

namespace MetaNode.Tests.Backup;

/// <summary>Backup archives made in memory for tests: real ones through <see cref="BackupArchive"/>, and hand-made bad ones.</summary>
internal static class BackupFiles
{
    /// <summary>A data directory's worth of files (bytes chosen per path), as the silo backs them up.</summary>
    public static Dictionary<string, byte[]> SampleFiles() => new(StringComparer.Ordinal)
    {
        ["metanode.db"] = [.. Encoding.ASCII.GetBytes("SQLite format 3\0"), .. RandomNumberGenerator.GetBytes(300_000)],
        ["chain/anvil-state.json"] = Encoding.UTF8.GetBytes("{\"best_block_number\":\"0x2a\",\"accounts\":{}}"),
        ["chain/devchain.json"] = Encoding.UTF8.GetBytes("{\"Registry\":\"0x5fbdb2315678afecb367f032d93f642f64180aa3\"}"),
        ["tls/ca.crt"] = Encoding.ASCII.GetBytes("-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"),
        ["tls/ca.key"] = Encoding.ASCII.GetBytes("-----BEGIN PRIVATE KEY-----\nca-key\n-----END PRIVATE KEY-----\n"),
        ["identities/admin/credential"] = Encoding.ASCII.GetBytes("header.claims.signature"),
    };

    public static BackupManifest Header(string clusterId = "metanode", string serviceId = "metanode") => new()
    {
        Format = BackupManifest.FormatName,
        Version = BackupManifest.CurrentVersion,
        CreatedAt = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero),
        ClusterId = clusterId,
        ServiceId = serviceId,
        VPodsRoot = "/var/lib/metanode-vpods",
        Chain = new BackupChainState { ChainId = 31337, BlockNumber = 42, Registry = "0x5fbdb2315678afecb367f032d93f642f64180aa3" },
        Entries = [],
    };

    /// <summary>Writes <paramref name="files"/> under a new directory and archives them with <see cref="BackupArchive.WriteAsync"/>.</summary>
    public static async Task<(byte[] Archive, BackupManifest Manifest)> ArchiveAsync(IReadOnlyDictionary<string, byte[]> files, BackupManifest? header = null)
    {
        var root = Path.Combine(Path.GetTempPath(), "metanode-backup-src-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            foreach (var (path, bytes) in files)
            {
                var target = Path.Combine(root, path);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                await File.WriteAllBytesAsync(target, bytes);
            }

            using var output = new MemoryStream();
            var manifest = await BackupArchive.WriteAsync(output, header ?? Header(), root, [.. files.Keys], CancellationToken.None);
            return (output.ToArray(), manifest);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>A tar.gz of the given entries in order, exactly as given (a manifest first when the test wants one).</summary>
    public static byte[] HandMade(params (string Name, byte[] Data)[] entries)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, data) in entries)
            {
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) });
            }
        }

        return output.ToArray();
    }

    public static byte[] ManifestJson(BackupManifest manifest) => JsonSerializer.SerializeToUtf8Bytes(manifest, new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static BackupEntry EntryOf(string path, byte[] data) => new() { Path = path, Bytes = data.Length, Sha256 = Convert.ToHexStringLower(SHA256.HashData(data)) };

    /// <summary>The archive's uncompressed tar bytes, changed by <paramref name="change"/>, compressed again.</summary>
    public static byte[] Recompressed(byte[] archive, Action<byte[]> change)
    {
        using var tar = new MemoryStream();
        using (var gzip = new GZipStream(new MemoryStream(archive), CompressionMode.Decompress))
        {
            gzip.CopyTo(tar);
        }

        var bytes = tar.ToArray();
        change(bytes);
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(bytes);
        }

        return output.ToArray();
    }

    /// <summary>Every file under <paramref name="directory"/> with its bytes, or an empty map when it does not exist.</summary>
    public static SortedDictionary<string, string> Snapshot(string directory)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (Directory.Exists(directory))
        {
            foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
            {
                files[Path.GetRelativePath(directory, file)] = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)));
            }

            foreach (var sub in Directory.EnumerateDirectories(directory, "*", SearchOption.AllDirectories))
            {
                files[Path.GetRelativePath(directory, sub) + "/"] = "dir";
            }
        }

        return files;
    }
}
