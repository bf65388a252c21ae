using MetaNode.Silo.Backup;
using Microsoft.Extensions.Configuration;

namespace MetaNode.Tests.Backup;

/// <summary><c>metanode-silo backup restore</c> in-process: what it writes, and every refusal writing nothing.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SiloRestoreTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "metanode-restore-" + Guid.NewGuid().ToString("N")[..8]);

    public SiloRestoreTests() => Directory.CreateDirectory(_root);

    private string Data => Path.Combine(_root, "data");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task ANewDirectory_GetsEveryFileOfTheBackup_PrivateToTheSilo()
    {
        var files = BackupFiles.SampleFiles();
        var backup = await WriteBackupAsync(files);

        var result = await RestoreAsync("backup", "restore", backup, $"--MetaNode:DataDirectory={Data}");

        Assert.True(result.Code == 0, result.ToString());
        foreach (var (path, bytes) in files)
        {
            Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(Data, path)));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(Data, path)));
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Data));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(Data, "identities", "admin")));
        Assert.Contains("the dev chain at block 42 with registry 0x5fbdb2315678afecb367f032d93f642f64180aa3", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("--MetaNode:Runtime:Process:DataDirectory=/var/lib/metanode-vpods", result.Stdout, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateDirectories(_root, "data.restore-*"));
    }

    [Fact]
    public async Task ANonEmptyDirectory_IsRefusedWithoutForce_AndNothingChanges()
    {
        var backup = await WriteBackupAsync(BackupFiles.SampleFiles());
        await SeedAsync();
        var before = BackupFiles.Snapshot(Data);

        var result = await RestoreAsync("backup", "restore", backup, $"--MetaNode:DataDirectory={Data}");

        Assert.Equal(SiloRestore.Refused, result.Code);
        Assert.Contains($"the data directory {Data} is not empty (chain, metanode.db, metanode.db-wal, tls, tools)", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("pass --force", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, BackupFiles.Snapshot(Data));
        Assert.Empty(Directory.EnumerateDirectories(_root, "data.restore-*"));
    }

    [Fact]
    public async Task Force_ReplacesTheDatabaseChainStateAndCertificates_DropsAStaleWriteAheadLog_AndKeepsTheRest()
    {
        var files = BackupFiles.SampleFiles();
        var backup = await WriteBackupAsync(files);
        await SeedAsync();

        // --force before the setting: configuration alone would take the setting as --force's value (and the absolute FILE as a key).
        var result = await RestoreAsync("backup", "restore", backup, "--force", $"--MetaNode:DataDirectory={Data}");

        Assert.True(result.Code == 0, result.ToString());
        Assert.Equal(files["metanode.db"], await File.ReadAllBytesAsync(Path.Combine(Data, "metanode.db")));
        Assert.False(File.Exists(Path.Combine(Data, "metanode.db-wal")), "a write-ahead log of the old database would be applied to the restored one");
        Assert.False(File.Exists(Path.Combine(Data, "tls", "old-silo.crt")));
        Assert.False(File.Exists(Path.Combine(Data, "chain", "anvil.pid")));
        Assert.Equal(files["chain/anvil-state.json"], await File.ReadAllBytesAsync(Path.Combine(Data, "chain", "anvil-state.json")));
        Assert.Equal("kept", await File.ReadAllTextAsync(Path.Combine(Data, "tools", "installed.txt")));
    }

    [Fact]
    public async Task ATamperedOrTruncatedBackup_IsRefused_AndNothingIsWritten_EvenWithForce()
    {
        var (archive, _) = await BackupFiles.ArchiveAsync(BackupFiles.SampleFiles());
        var truncated = Path.Combine(_root, "truncated.tar.gz");
        await File.WriteAllBytesAsync(truncated, archive[..(archive.Length * 3 / 4)]);
        var tampered = Path.Combine(_root, "tampered.tar.gz");
        await File.WriteAllBytesAsync(tampered, BackupFiles.Recompressed(archive, tar => tar[tar.Length / 2] ^= 0x20));

        foreach (var file in new[] { truncated, tampered })
        {
            var fresh = await RestoreAsync("backup", "restore", file, $"--MetaNode:DataDirectory={Data}");
            Assert.Equal(SiloRestore.Failed, fresh.Code);
            Assert.Contains($"refused to restore '{file}'", fresh.Stderr, StringComparison.Ordinal);
            Assert.Contains($"Nothing was written to {Data}", fresh.Stderr, StringComparison.Ordinal);
            Assert.False(Directory.Exists(Data));
        }

        await SeedAsync();
        var before = BackupFiles.Snapshot(Data);
        foreach (var file in new[] { truncated, tampered })
        {
            var forced = await RestoreAsync("backup", "restore", file, $"--MetaNode:DataDirectory={Data}", "--force");
            Assert.Equal(SiloRestore.Failed, forced.Code);
            Assert.Equal(before, BackupFiles.Snapshot(Data));
        }

        Assert.Empty(Directory.EnumerateDirectories(_root, "data.restore-*"));
    }

    [Fact]
    public async Task ABackupOfAnotherClusterOrService_IsRefused_AndNothingIsWritten()
    {
        var backup = await WriteBackupAsync(BackupFiles.SampleFiles(), BackupFiles.Header(clusterId: "other"));

        var result = await RestoreAsync("backup", "restore", backup, $"--MetaNode:DataDirectory={Data}");

        Assert.Equal(SiloRestore.Refused, result.Code);
        Assert.Contains("is a backup of cluster 'other' (service 'metanode')", result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Data));
        Assert.Empty(Directory.EnumerateDirectories(_root, "data.restore-*"));
    }

    [Fact]
    public async Task TheClusterProfile_IsPointedAtPgRestore()
    {
        var backup = await WriteBackupAsync(BackupFiles.SampleFiles());

        var result = await RestoreAsync("backup", "restore", backup, $"--MetaNode:DataDirectory={Data}", "--MetaNode:Profile=Cluster", "--MetaNode:Database:ConnectionString=Host=127.0.0.1", "--MetaNode:Tls:Insecure=true");

        Assert.Equal(SiloRestore.Refused, result.Code);
        Assert.Contains("restore it with pg_restore", result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Data));
    }

    [Fact]
    public void Arguments_AreAFileThenSettingsAndForce_InAnyOrder()
    {
        Assert.Null(SiloRestore.ParseArguments(["backup", "restore", "b.tar.gz", "--force", "--MetaNode:DataDirectory=/d"], out var file, out var force, out var settings));
        Assert.Equal((Path.GetFullPath("b.tar.gz"), true), (file, force));
        Assert.Equal(["--MetaNode:DataDirectory=/d"], settings);
        Assert.Null(SiloRestore.ParseArguments(["backup", "restore", "/abs/b.tar.gz"], out file, out force, out settings));
        Assert.Equal(("/abs/b.tar.gz", false), (file, force));
        Assert.Empty(settings);

        Assert.Contains("usage:", SiloRestore.ParseArguments(["backup", "restore"], out _, out _, out _), StringComparison.Ordinal);
        Assert.Contains("usage:", SiloRestore.ParseArguments(["backup", "restore", "--force", "b.tar.gz"], out _, out _, out _), StringComparison.Ordinal);
        Assert.Contains("unexpected argument 'extra'", SiloRestore.ParseArguments(["backup", "restore", "b.tar.gz", "extra"], out _, out _, out _), StringComparison.Ordinal);
        Assert.Contains("unexpected argument '--MetaNode:DataDirectory'", SiloRestore.ParseArguments(["backup", "restore", "b.tar.gz", "--MetaNode:DataDirectory", "/d"], out _, out _, out _), StringComparison.Ordinal);
    }

    /// <summary>A data directory a silo used: its database with a write-ahead log, the dev chain, certificates and installed tools.</summary>
    private async Task SeedAsync()
    {
        foreach (var (path, text) in new[]
        {
            ("metanode.db", "old database"), ("metanode.db-wal", "old log"), ("chain/anvil-state.json", "{}"), ("chain/anvil.pid", "999999"),
            ("tls/old-silo.crt", "old"), ("tools/installed.txt", "kept"),
        })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(Data, path))!);
            await File.WriteAllTextAsync(Path.Combine(Data, path), text);
        }
    }

    private async Task<string> WriteBackupAsync(Dictionary<string, byte[]> files, MetaNode.Backup.BackupManifest? header = null)
    {
        var (archive, _) = await BackupFiles.ArchiveAsync(files, header);
        var path = Path.Combine(_root, "backup.tar.gz");
        await File.WriteAllBytesAsync(path, archive);
        return path;
    }

    internal sealed record Run(int Code, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {Code}; stdout: {Stdout}; stderr: {Stderr}";
    }

    /// <summary>Runs the restore as the silo's Program does, with the configuration read from the same arguments.</summary>
    internal static async Task<Run> RestoreAsync(params string[] args)
    {
        var configuration = new ConfigurationBuilder().AddCommandLine(args).Build();
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await SiloRestore.RunAsync(args, configuration, stdout, stderr);
        return new Run(code, stdout.ToString(), stderr.ToString());
    }
}
