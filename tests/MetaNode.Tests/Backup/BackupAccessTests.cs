using System.Text.Json;
using MetaNode.Backup;
using MetaNode.Grains.Security;
using MetaNode.Security;
using MetaNode.Silo.Backup;
using MetaNode.Tests.Infrastructure;
using MetaNode.Tests.Security;
using Microsoft.Data.Sqlite;

namespace MetaNode.Tests.Backup;

/// <summary>Backups hold the CA's private key: only admins take them. A real embedded silo with identities of each role.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class BackupAccessTests(AccessFixture fixture) : IClassFixture<AccessFixture>
{
    [Fact]
    public void EveryBackupMethod_NeedsAnAdmin_AndTakingOneIsAudited()
    {
        foreach (var method in typeof(IBackupGrain).GetMethods())
        {
            var requirement = AccessPolicy.For(method);
            Assert.Equal((AccessRole.Admin, false), (requirement.Role, requirement.SiloOnly));
        }

        Assert.True(AccessPolicy.For(typeof(IBackupGrain).GetMethod(nameof(IBackupGrain.CreateAsync))!).Mutates);
    }

    [Fact]
    public async Task AViewerOrOperator_IsRefused_WhileAnAdminGetsABackupOfTheLiveDatabase()
    {
        var directory = Path.Combine(fixture.Root, "backups-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(directory);
        var file = Path.Combine(directory, "silo.tar.gz");
        foreach (var name in new[] { "viewer", "operator" })
        {
            await using var client = await fixture.ConnectAsync(fixture.Identity(name));
            var grain = client.GrainFactory.GetGrain<IBackupGrain>(BackupKeys.Default);
            var create = await Assert.ThrowsAsync<PermissionDeniedException>(() => grain.CreateAsync());
            Assert.StartsWith("permission denied: IBackupGrain.Create needs admin", create.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<PermissionDeniedException>(() => grain.ReadAsync("any", 0, 1));
            await Assert.ThrowsAsync<PermissionDeniedException>(() => grain.ReleaseAsync("any"));

            var cli = await new CliRunner("--gateway", fixture.Silo.Gateway, "--identity", fixture.Identity(name)).RunAsync("backup", "create", "--out", file);
            Assert.Equal(1, cli.ExitCode);
            Assert.StartsWith("error: permission denied: IBackupGrain.Create needs admin", cli.Stderr, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFileSystemEntries(directory));
        }

        var admin = await fixture.Silo.Cli().JsonAsync("backup", "create", "--out", file);

        Assert.Equal(file, admin.GetProperty("path").GetString());
        Assert.Equal(new FileInfo(file).Length, admin.GetProperty("bytes").GetInt64());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Equal(JsonValueKind.Null, admin.GetProperty("chainBlock").ValueKind);
        var paths = admin.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("path").GetString()).ToList();
        Assert.Contains("metanode.db", paths);
        Assert.Contains("tls/ca.key", paths);
        Assert.Contains("tls/silo.key", paths);
        Assert.Contains("identities/admin/credential", paths);
        Assert.DoesNotContain(paths, p => p!.StartsWith("chain/", StringComparison.Ordinal));

        // The archive checks out, and its database is the live one: it holds the refusals just made and the identities granted.
        var staging = Path.Combine(directory, "extracted");
        await using (var input = File.OpenRead(file))
        {
            var manifest = await BackupArchive.ExtractAsync(input, staging, CancellationToken.None);
            Assert.Equal("metanode", manifest.ClusterId);
        }

        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(fixture.Silo.DataDirectory, "tls", "ca.key")), await File.ReadAllBytesAsync(Path.Combine(staging, "tls", "ca.key")));
        await using (var database = new SqliteConnection($"Data Source={Path.Combine(staging, "metanode.db")};Mode=ReadOnly;Pooling=False"))
        {
            await database.OpenAsync();
            // Each of the two was refused twice: through the grain, then through the CLI.
            Assert.Equal(4L, await ScalarAsync(database, "SELECT count(*) FROM audit_log WHERE method = 'IBackupGrain.Create' AND outcome LIKE 'denied:%' AND identity IN ('viewer', 'operator')"));
            Assert.Equal("ok", await ScalarAsync(database, "PRAGMA integrity_check"));
            Assert.True((long)(await ScalarAsync(database, "SELECT count(*) FROM grain_state"))! > 0);
        }

        // No silent replacement; --force replaces. The silo keeps no copy once the CLI has its own.
        var before = await File.ReadAllBytesAsync(file);
        var again = await fixture.Silo.Cli().RunAsync("backup", "create", "--out", file);
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("exists; pass --force to replace it", again.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllBytesAsync(file));

        var forced = await fixture.Silo.Cli().JsonAsync("backup", "create", "--out", file, "--force");
        Assert.NotEqual(before, await File.ReadAllBytesAsync(file));
        Assert.Equal(forced.GetProperty("sha256").GetString(), Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(file))));
        Assert.Equal(["extracted", "silo.tar.gz"], Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(fixture.Silo.DataDirectory, SiloBackup.StagingFolder)));

        var audit = await fixture.Silo.Cli().JsonAsync("audit", "list", "--identity-name", "admin", "--since", "10m");
        Assert.Equal(2, audit.EnumerateArray().Count(e => e.GetProperty("method").GetString() == "IBackupGrain.Create" && e.GetProperty("outcome").GetString() == "ok"));
    }

    private static async Task<object?> ScalarAsync(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync();
    }
}
