using System.Text;
using MetaNode.Backup;
using MetaNode.Silo.Backup;

namespace MetaNode.Tests.Backup;

/// <summary>The backup file: what goes in comes out byte for byte, and any change, cut or stray entry is refused.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class BackupArchiveTests : IDisposable
{
    private readonly string _staging = Path.Combine(Path.GetTempPath(), "metanode-backup-staging-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_staging))
        {
            Directory.Delete(_staging, recursive: true);
        }
    }

    [Fact]
    public async Task Archive_RoundTripsEveryFileAndTheManifest_PrivateToItsOwner()
    {
        var files = BackupFiles.SampleFiles();
        var (archive, written) = await BackupFiles.ArchiveAsync(files);

        var read = await BackupArchive.ExtractAsync(new MemoryStream(archive), _staging, CancellationToken.None);

        Assert.Equal((BackupManifest.FormatName, BackupManifest.CurrentVersion, "metanode", "metanode"), (read.Format, read.Version, read.ClusterId, read.ServiceId));
        Assert.Equal(written.CreatedAt, read.CreatedAt);
        Assert.Equal((42L, "0x5fbdb2315678afecb367f032d93f642f64180aa3"), (read.Chain!.BlockNumber, read.Chain.Registry));
        Assert.Equal("/var/lib/metanode-vpods", read.VPodsRoot);
        Assert.Equal(files.Keys.Order(StringComparer.Ordinal), read.Entries.Select(e => e.Path).Order(StringComparer.Ordinal));
        foreach (var entry in read.Entries)
        {
            Assert.Equal(BackupFiles.EntryOf(entry.Path, files[entry.Path]), entry);
            var extracted = Path.Combine(_staging, entry.Path);
            Assert.Equal(files[entry.Path], await File.ReadAllBytesAsync(extracted));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(extracted));
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(_staging, "tls")));
    }

    [Fact]
    public async Task AChangedByteInAFile_IsRefusedNamingTheFile()
    {
        var files = BackupFiles.SampleFiles();
        files["tls/ca.key"] = Encoding.ASCII.GetBytes("-----BEGIN PRIVATE KEY-----\nUNIQUE-KEY-MATERIAL\n-----END PRIVATE KEY-----\n");
        var (archive, _) = await BackupFiles.ArchiveAsync(files);
        var tampered = BackupFiles.Recompressed(archive, tar =>
        {
            var at = Encoding.ASCII.GetString(tar).IndexOf("UNIQUE-KEY-MATERIAL", StringComparison.Ordinal);
            Assert.True(at > 0);
            tar[at] = (byte)'X';
        });

        var error = await Assert.ThrowsAsync<InvalidBackupException>(() => BackupArchive.ExtractAsync(new MemoryStream(tampered), _staging, CancellationToken.None));

        Assert.Contains("'tls/ca.key' does not match its manifest", error.Message, StringComparison.Ordinal);
        Assert.Contains("changed or damaged", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.95)]
    [InlineData(-1)]
    [InlineData(-8)]
    public async Task ATruncatedFile_IsRefused(double cut)
    {
        var (archive, _) = await BackupFiles.ArchiveAsync(BackupFiles.SampleFiles());
        var length = cut > 0 ? (int)(archive.Length * cut) : archive.Length + (int)cut;

        var error = await Assert.ThrowsAsync<InvalidBackupException>(() => BackupArchive.ExtractAsync(new MemoryStream(archive[..length]), _staging, CancellationToken.None));

        Assert.Matches("truncated|damaged", error.Message);
    }

    [Fact]
    public async Task AChangedCompressedByte_IsRefused()
    {
        var (archive, _) = await BackupFiles.ArchiveAsync(BackupFiles.SampleFiles());
        var changed = archive.ToArray();
        changed[changed.Length / 2] ^= 0x01;

        await Assert.ThrowsAsync<InvalidBackupException>(() => BackupArchive.ExtractAsync(new MemoryStream(changed), _staging, CancellationToken.None));
    }

    [Fact]
    public async Task AnythingButABackup_IsRefusedAsSuch()
    {
        var notGzip = await Assert.ThrowsAsync<InvalidBackupException>(() => BackupArchive.ExtractAsync(new MemoryStream(Encoding.ASCII.GetBytes("just text, not an archive")), _staging, CancellationToken.None));
        Assert.Contains("damaged or truncated", notGzip.Message, StringComparison.Ordinal);

        var noManifest = BackupFiles.HandMade(("metanode.db", [1, 2, 3]));
        var first = await Assert.ThrowsAsync<InvalidBackupException>(() => BackupArchive.ExtractAsync(new MemoryStream(noManifest), _staging, CancellationToken.None));
        Assert.Contains("its first entry is 'metanode.db', not manifest.json", first.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> BadManifests => new()
    {
        { """{"format":"other","version":1,"createdAt":"2025-01-01T00:00:00Z","clusterId":"c","serviceId":"s","entries":[]}""", "format 'other'" },
        { """{"format":"metanode-backup","version":2,"createdAt":"2025-01-01T00:00:00Z","clusterId":"c","serviceId":"s","entries":[]}""", "format version 2" },
        { """{"format":"metanode-backup","version":1,"createdAt":"2025-01-01T00:00:00Z","clusterId":"c","serviceId":"s","entries":[{"path":"../outside","bytes":1,"sha256":"00"}]}""", "entry '../outside'" },
        { """{"format":"metanode-backup","version":1,"createdAt":"2025-01-01T00:00:00Z","clusterId":"c","serviceId":"s","entries":[{"path":"metanode-vpods/x/key/key.json","bytes":1,"sha256":"00"}]}""", "only metanode.db" },
        { """{"format":"metanode-backup","version":1,"createdAt":"2025-01-01T00:00:00Z","clusterId":"c","serviceId":"s","entries":[{"path":"tls/ca.key","bytes":1,"sha256":"0000000000000000000000000000000000000000000000000000000000000000"}]}""", "holds no metanode.db" },
        { """{"format":"metanode-backup","version":1}""", "not valid" },
    };

    [Theory]
    [MemberData(nameof(BadManifests))]
    public async Task AManifestOfAnotherFormatOrWithAPathOutsideTheBackedUpFiles_IsRefused(string manifest, string expected)
    {
        var archive = BackupFiles.HandMade(("manifest.json", Encoding.UTF8.GetBytes(manifest)));

        var error = await Assert.ThrowsAsync<InvalidBackupException>(() => BackupArchive.ExtractAsync(new MemoryStream(archive), _staging, CancellationToken.None));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_staging, "..", "outside")));
    }

    [Fact]
    public async Task AnEntryTheManifestDoesNotList_OrOneItListsButLacks_IsRefused()
    {
        byte[] database = [1, 2, 3];
        var manifest = BackupFiles.Header() with { Entries = [BackupFiles.EntryOf("metanode.db", database)] };
        var extra = BackupFiles.HandMade(("manifest.json", BackupFiles.ManifestJson(manifest)), ("metanode.db", database), ("tls/ca.key", [9]));
        var error = await Assert.ThrowsAsync<InvalidBackupException>(() => BackupArchive.ExtractAsync(new MemoryStream(extra), _staging, CancellationToken.None));
        Assert.Contains("the entry 'tls/ca.key' is not in its manifest", error.Message, StringComparison.Ordinal);

        Directory.Delete(_staging, recursive: true);
        var lacking = BackupFiles.HandMade(("manifest.json", BackupFiles.ManifestJson(manifest with { Entries = [.. manifest.Entries, BackupFiles.EntryOf("tls/ca.crt", [7])] })), ("metanode.db", database));
        var missing = await Assert.ThrowsAsync<InvalidBackupException>(() => BackupArchive.ExtractAsync(new MemoryStream(lacking), _staging, CancellationToken.None));
        Assert.Contains("it ends before tls/ca.crt", missing.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("metanode.db", true)]
    [InlineData("chain/anvil-state.json", true)]
    [InlineData("chain/devchain.json", true)]
    [InlineData("tls/silo.key", true)]
    [InlineData("identities/admin/identity.key", true)]
    [InlineData("chain/anvil.log", false)]
    [InlineData("tools/node_modules/x", false)]
    [InlineData("tls/../metanode.db", false)]
    [InlineData("/etc/passwd", false)]
    [InlineData("tls/.hidden", false)]
    [InlineData("tls\\ca.key", false)]
    [InlineData("identities/admin", false)]
    [InlineData("", false)]
    public void Paths_AreOnlyTheDatabaseTheDevChainTlsAndIdentities(string path, bool allowed) =>
        Assert.Equal(allowed, BackupPaths.Check(path) is null);
}
