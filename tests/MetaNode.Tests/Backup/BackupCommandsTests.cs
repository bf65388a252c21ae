using System.Reflection;
using MetaNode.Backup;
using MetaNode.Cli;
using MetaNode.Client;

namespace MetaNode.Tests.Backup;

/// <summary><c>backup create</c> against a stand-in client: the file appears whole or not at all, and is never replaced silently.</summary>
public sealed class BackupCommandsTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "metanode-backup-cli-" + Guid.NewGuid().ToString("N")[..8]);

    public BackupCommandsTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Target => Path.Combine(_directory, "silo.tar.gz");

    [Fact]
    public async Task Create_WritesTheBytesTheClientCopied_ToTheFile()
    {
        byte[] archive = [1, 2, 3, 4, 5];
        var (code, stdout, stderr, connected) = await RunAsync(Copying(archive), "backup", "create", "--out", Target);

        Assert.True(code == ExitCodes.Success, stderr);
        Assert.True(connected);
        Assert.Equal(archive, await File.ReadAllBytesAsync(Target));
        Assert.Contains($"to {Target}. It holds the cluster CA's private key: keep it private.", stdout, StringComparison.Ordinal);
        Assert.Contains("the dev chain at block 7", stdout, StringComparison.Ordinal);
        Assert.Equal(["silo.tar.gz"], Directory.EnumerateFileSystemEntries(_directory).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Create_LeavesNoFile_WhenTheCopyFailsHalfWay()
    {
        var (code, _, stderr, _) = await RunAsync(async (destination, ct) =>
        {
            await destination.WriteAsync(new byte[1000], ct);
            throw new InvalidOperationException("the backup arrived damaged: 1000 bytes");
        }, "backup", "create", "--out", Target);

        Assert.Equal(ExitCodes.OperationFailed, code);
        Assert.Equal("error: the backup arrived damaged: 1000 bytes", stderr.Trim());
        Assert.Empty(Directory.EnumerateFileSystemEntries(_directory));
    }

    [Fact]
    public async Task Create_RefusesAnExistingFileWithoutForce_BeforeConnecting_AndReplacesItWithForce()
    {
        await File.WriteAllTextAsync(Target, "an older backup");

        var refused = await RunAsync(Copying([9, 9]), "backup", "create", "--out", Target);
        Assert.Equal(ExitCodes.UsageError, refused.Code);
        Assert.Contains("exists; pass --force to replace it", refused.Stderr, StringComparison.Ordinal);
        Assert.False(refused.Connected);
        Assert.Equal("an older backup", await File.ReadAllTextAsync(Target));

        var forced = await RunAsync(Copying([9, 9]), "backup", "create", "--out", Target, "--force");
        Assert.True(forced.Code == ExitCodes.Success, forced.Stderr);
        Assert.Equal([9, 9], await File.ReadAllBytesAsync(Target));
    }

    [Fact]
    public async Task Create_RefusesADirectoryOrAMissingFolder_BeforeConnecting()
    {
        var directory = await RunAsync(Copying([1]), "backup", "create", "--out", _directory);
        Assert.Equal((ExitCodes.UsageError, false), (directory.Code, directory.Connected));
        Assert.Contains("is a directory", directory.Stderr, StringComparison.Ordinal);

        var missing = await RunAsync(Copying([1]), "backup", "create", "--out", Path.Combine(_directory, "no-such-folder", "b.tar.gz"));
        Assert.Equal((ExitCodes.UsageError, false), (missing.Code, missing.Connected));
        Assert.Contains("does not exist", missing.Stderr, StringComparison.Ordinal);
    }

    private static Func<Stream, CancellationToken, Task<BackupTicket>> Copying(byte[] archive) => async (destination, ct) =>
    {
        await destination.WriteAsync(archive, ct);
        return new BackupTicket
        {
            Id = "b1",
            Bytes = archive.Length,
            Sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(archive)),
            Manifest = BackupFiles.Header() with { Chain = new BackupChainState { ChainId = 31337, BlockNumber = 7 }, Entries = [BackupFiles.EntryOf("metanode.db", archive)] },
        };
    };

    private static async Task<(int Code, string Stdout, string Stderr, bool Connected)> RunAsync(Func<Stream, CancellationToken, Task<BackupTicket>> copy, params string[] args)
    {
        var connected = false;
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await CliApp.RunAsync(args, stdout, stderr, (_, _) =>
        {
            connected = true;
            return Task.FromResult(BackupClient.Create(copy));
        });
        return (code, stdout.ToString(), stderr.ToString(), connected);
    }

    /// <summary>A client that only copies backups (through the given function); anything else it is asked fails the test.</summary>
    public class BackupClient : DispatchProxy
    {
        private Func<Stream, CancellationToken, Task<BackupTicket>> _copy = null!;

        public static IMetaNodeClient Create(Func<Stream, CancellationToken, Task<BackupTicket>> copy)
        {
            var client = DispatchProxy.Create<IMetaNodeClient, BackupClient>();
            ((BackupClient)(object)client)._copy = copy;
            return client;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) => targetMethod?.Name switch
        {
            nameof(IMetaNodeClient.CopyBackupAsync) => _copy((Stream)args![0]!, (CancellationToken)args[1]!),
            nameof(IAsyncDisposable.DisposeAsync) => ValueTask.CompletedTask,
            _ => throw new InvalidOperationException($"backup create called {targetMethod?.Name}"),
        };
    }
}
