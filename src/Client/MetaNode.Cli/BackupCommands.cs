using System.CommandLine;
using System.Globalization;
using MetaNode.Backup;
using static MetaNode.Cli.CliApp;

namespace MetaNode.Cli;

/// <summary><c>backup create</c>: a consistent backup of a running embedded silo, written to a file (restored with <c>metanode-silo backup restore</c>).</summary>
internal static class BackupCommands
{
    public static Command Build(CliContext context)
    {
        var backup = new Command("backup", "Back up a running embedded silo: its database, dev chain state, certificates and keys (admin).");
        backup.Subcommands.Add(Create(context));
        return backup;
    }

    /// <summary>What <c>backup create</c> reports.</summary>
    internal sealed record BackupWritten(
        string Path, long Bytes, string Sha256, DateTimeOffset CreatedAt, string ClusterId, string ServiceId, long? ChainBlock, string? Registry, IReadOnlyList<BackupEntry> Entries);

    private static Command Create(CliContext context)
    {
        var outPath = new Option<string>("--out") { Description = "The backup file to write (a .tar.gz archive).", HelpName = "FILE", Required = true };
        var force = new Option<bool>("--force") { Description = "Replace FILE if it exists." };
        var create = new Command("create", "Take a consistent backup of the running silo and write it to FILE (atomically). It holds the cluster CA's private key: keep it private.")
        {
            outPath, force,
        };
        create.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var path = parseResult.GetValue(outPath) is { Length: > 0 } p ? Path.GetFullPath(p) : throw new CliUsageException("--out must name the backup file to write.");
            var replace = parseResult.GetValue(force);
            CheckTarget(path, replace);

            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var temporary = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Guid.NewGuid().ToString("N")[..8]}.partial");
            BackupTicket ticket;
            try
            {
                await using (var file = new FileStream(temporary, PrivateCreate()))
                {
                    ticket = await client.CopyBackupAsync(file, ct).ConfigureAwait(false);
                    file.Flush(flushToDisk: true);
                }

                try
                {
                    File.Move(temporary, path, overwrite: replace);
                }
                catch (IOException) when (!replace && File.Exists(path))
                {
                    throw new InvalidOperationException($"{path} was created by someone else meanwhile; nothing was replaced. Pass --force to replace it.");
                }
            }
            finally
            {
                File.Delete(temporary);
            }

            var manifest = ticket.Manifest;
            var written = new BackupWritten(path, ticket.Bytes, ticket.Sha256, manifest.CreatedAt, manifest.ClusterId, manifest.ServiceId, manifest.Chain?.BlockNumber, manifest.Chain?.Registry, manifest.Entries);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(written);
            }
            else
            {
                var chain = manifest.Chain is { } c ? $"the dev chain at block {c.BlockNumber}" : "no dev chain";
                await context.Stdout.WriteLineAsync(string.Create(
                    CultureInfo.InvariantCulture,
                    $"Wrote the backup of cluster '{manifest.ClusterId}' taken {manifest.CreatedAt:u} ({manifest.Entries.Count} files: the database, {chain}, certificates and identities; {ticket.Bytes} bytes, SHA-256 {ticket.Sha256}) to {path}. It holds the cluster CA's private key: keep it private. Restore it with 'metanode-silo backup restore {path}'.")).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }));
        return create;
    }

    /// <summary>Refuses, before anything connects, a target that exists (without --force), is a directory, or lies in no directory.</summary>
    private static void CheckTarget(string path, bool replace)
    {
        if (Directory.Exists(path))
        {
            throw new CliUsageException($"--out '{path}' is a directory; name the backup file to write.");
        }

        if (File.Exists(path) && !replace)
        {
            throw new CliUsageException($"--out '{path}' exists; pass --force to replace it.");
        }

        if (!Directory.Exists(Path.GetDirectoryName(path)))
        {
            throw new CliUsageException($"--out '{path}': the directory {Path.GetDirectoryName(path)} does not exist.");
        }
    }

    private static FileStreamOptions PrivateCreate()
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        return options;
    }
}
