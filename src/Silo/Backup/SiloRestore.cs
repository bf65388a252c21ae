using System.Globalization;
using MetaNode.Backup;
using MetaNode.Grains.Runtime.Process;
using MetaNode.Silo.Hosting;

namespace MetaNode.Silo.Backup;

/// <summary>
/// <c>metanode-silo backup restore FILE [--force]</c>: puts a backup's files into the configured data directory before the silo
/// starts. The whole archive is read and checked into a staging directory first; only then is the data directory touched.
/// </summary>
public static class SiloRestore
{
    public const int Success = 0;
    public const int Failed = 1;
    public const int Refused = 2;

    private const string Usage = "usage: metanode-silo backup restore FILE [--force] (settings such as --MetaNode:DataDirectory=DIR may follow FILE)";

    /// <summary>What a restore with --force replaces (removed first); everything else in the data directory (tools/, logs) stays.</summary>
    private static readonly string[] Replaced =
    [
        BackupPaths.Database, BackupPaths.Database + "-wal", BackupPaths.Database + "-shm", BackupPaths.Database + "-journal",
        BackupPaths.ChainState, BackupPaths.ChainInfo, "chain/anvil.pid", BackupPaths.Tls, BackupPaths.Identities,
    ];

    /// <param name="args">The silo's arguments, starting with <c>backup restore</c>.</param>
    /// <param name="configuration">The silo's configuration (appsettings, environment, command line).</param>
    public static async Task<int> RunAsync(string[] args, IConfiguration configuration, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(configuration);
        if (ParseArguments(args, out var file, out var force, out var settings) is { } usage)
        {
            await stderr.WriteLineAsync($"metanode-silo: {usage}").ConfigureAwait(false);
            return Refused;
        }

        // The command line is read again without FILE and --force: the configuration reader takes an argument starting with '/'
        // (an absolute FILE) or a bare --force as a key whose value is the next argument, and a setting after it would be lost.
        var effective = new ConfigurationBuilder().AddConfiguration(configuration).AddCommandLine(settings).Build();
        MetaNodeSiloOptions options;
        try
        {
            options = effective.ReadMetaNodeOptions();
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException exception)
        {
            foreach (var failure in exception.Failures)
            {
                await stderr.WriteLineAsync($"metanode-silo: invalid configuration: {failure}").ConfigureAwait(false);
            }

            return Refused;
        }

        if (options.Profile == SiloProfile.Cluster)
        {
            await stderr.WriteLineAsync("metanode-silo: the cluster profile keeps its state in PostgreSQL: restore it with pg_restore as README.md's 'Backups' section shows.").ConfigureAwait(false);
            return Refused;
        }

        var data = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.DataDirectory));
        if (!File.Exists(file))
        {
            await stderr.WriteLineAsync($"metanode-silo: the backup file '{file}' does not exist.").ConfigureAwait(false);
            return Refused;
        }

        var present = Directory.Exists(data) ? Directory.EnumerateFileSystemEntries(data).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList() : [];
        if (present.Count > 0 && !force)
        {
            await stderr.WriteLineAsync($"metanode-silo: the data directory {data} is not empty ({string.Join(", ", present.Take(5))}{(present.Count > 5 ? ", …" : string.Empty)}): restore into an empty or new directory (--MetaNode:DataDirectory=DIR), or pass --force to replace its database, dev chain state, tls/ and identities/ with the backup's.").ConfigureAwait(false);
            return Refused;
        }

        if (RunningSilo(data) is { } running)
        {
            await stderr.WriteLineAsync($"metanode-silo: {running} uses the data directory {data}: stop its silo before restoring into it.").ConfigureAwait(false);
            return Refused;
        }

        var staging = $"{data}.restore-{Guid.NewGuid().ToString("N")[..8]}";
        try
        {
            BackupManifest manifest;
            try
            {
                await using var input = File.OpenRead(file);
                manifest = await BackupArchive.ExtractAsync(input, staging, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidBackupException exception)
            {
                await stderr.WriteLineAsync($"metanode-silo: refused to restore '{file}': {exception.Message} Nothing was written to {data}.").ConfigureAwait(false);
                return Failed;
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                await stderr.WriteLineAsync($"metanode-silo: could not read '{file}' into {staging}: {exception.Message} Nothing was written to {data}.").ConfigureAwait(false);
                return Failed;
            }

            if (manifest.ClusterId != options.ClusterId || manifest.ServiceId != options.ServiceId)
            {
                await stderr.WriteLineAsync($"metanode-silo: '{file}' is a backup of cluster '{manifest.ClusterId}' (service '{manifest.ServiceId}'); this silo is configured for cluster '{options.ClusterId}' (service '{options.ServiceId}'), under which its state would not be found. Set MetaNode:ClusterId and MetaNode:ServiceId to the backup's. Nothing was written.").ConfigureAwait(false);
                return Refused;
            }

            try
            {
                Place(staging, data, manifest);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                await stderr.WriteLineAsync($"metanode-silo: writing into {data} failed: {exception.Message} The directory may hold part of the backup: fix the cause and restore again with --force.").ConfigureAwait(false);
                return Failed;
            }

            await stdout.WriteLineAsync(Describe(file, data, manifest)).ConfigureAwait(false);
            if (VPodsNote(manifest, data, effective[$"{ProcessRuntimeOptions.SectionName}:{nameof(ProcessRuntimeOptions.DataDirectory)}"]) is { } note)
            {
                await stdout.WriteLineAsync(note).ConfigureAwait(false);
            }

            return Success;
        }
        finally
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }
    }

    /// <summary>
    /// Null when the arguments after <c>backup restore</c> are FILE, then settings (<c>--Key=Value</c>) and <c>--force</c> in any order;
    /// else the usage error. <paramref name="settings"/> are the settings alone.
    /// </summary>
    public static string? ParseArguments(IReadOnlyList<string> args, out string file, out bool force, out string[] settings)
    {
        ArgumentNullException.ThrowIfNull(args);
        file = string.Empty;
        force = false;
        settings = [];
        if (args.Count < 3 || args[2].StartsWith('-'))
        {
            return Usage;
        }

        file = Path.GetFullPath(args[2]);
        var given = new List<string>();
        foreach (var argument in args.Skip(3))
        {
            if (argument == "--force")
            {
                force = true;
            }
            else if (argument.StartsWith("--", StringComparison.Ordinal) && argument.Contains('=', StringComparison.Ordinal))
            {
                given.Add(argument);
            }
            else
            {
                return $"unexpected argument '{argument}'; {Usage}";
            }
        }

        settings = [.. given];
        return null;
    }

    /// <summary>Moves the checked files from the staging directory into the data directory (a rename each: both are on one file system).</summary>
    private static void Place(string staging, string data, BackupManifest manifest)
    {
        SiloDataDirectory.MakePrivate(data);
        foreach (var replaced in Replaced)
        {
            var path = Path.Combine(data, replaced);
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
            else if (File.Exists(path))
            {
                File.Delete(path);
            }
        }

        foreach (var entry in manifest.Entries)
        {
            var target = Path.Combine(data, entry.Path);
            for (var directory = Path.GetDirectoryName(target)!; directory.Length > data.Length; directory = Path.GetDirectoryName(directory)!)
            {
                SiloDataDirectory.MakePrivate(directory);
            }

            File.Move(Path.Combine(staging, entry.Path), target, overwrite: true);
        }
    }

    private static string Describe(string file, string data, BackupManifest manifest)
    {
        var database = manifest.Entries.First(e => e.Path == BackupPaths.Database);
        var chain = manifest.Chain is { } c
            ? string.Create(CultureInfo.InvariantCulture, $"the dev chain at block {c.BlockNumber}{(c.Registry is null ? string.Empty : $" with registry {c.Registry}")}")
            : "no dev chain state";
        var security = manifest.Entries.Count(e => e.Path.StartsWith(BackupPaths.Tls + "/", StringComparison.Ordinal) || e.Path.StartsWith(BackupPaths.Identities + "/", StringComparison.Ordinal));
        return string.Create(CultureInfo.InvariantCulture,
            $"metanode-silo: restored the backup of cluster '{manifest.ClusterId}' taken {manifest.CreatedAt:u} from {file} into {data}: the database ({database.Bytes} bytes), {chain}, {security} certificate and identity files; every file matched its SHA-256. Start the silo with the same settings.");
    }

    /// <summary>A note when the silo, as configured, would look for its process vPods elsewhere than the backed-up one kept them.</summary>
    public static string? VPodsNote(BackupManifest manifest, string data, string? configuredRoot)
    {
        if (manifest.VPodsRoot is not { } backedUp)
        {
            return null;
        }

        var here = Path.GetFullPath(string.IsNullOrWhiteSpace(configuredRoot) ? ProcessRuntimeRoot.DefaultFor(data) : configuredRoot);
        return string.Equals(Path.TrimEndingDirectorySeparator(here), Path.TrimEndingDirectorySeparator(backedUp), StringComparison.Ordinal)
            ? null
            : $"metanode-silo: note: a backup holds no vPod directories (their data, logs and keys). The backed-up silo kept them in {backedUp}; this one would look in {here}. " +
              $"To find them, start the silo with --{ProcessRuntimeOptions.SectionName}:{nameof(ProcessRuntimeOptions.DataDirectory)}={backedUp}.";
    }

    /// <summary>The dev chain (anvil) of a silo still running on <paramref name="data"/>, found by its pid file, or null.</summary>
    private static string? RunningSilo(string data)
    {
        var pidFile = Path.Combine(data, "chain", "anvil.pid");
        if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            return null;
        }

        try
        {
            var commandLine = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
            return commandLine.Contains("anvil", StringComparison.Ordinal) && commandLine.Contains(Path.Combine(data, BackupPaths.ChainState), StringComparison.Ordinal)
                ? $"the dev chain (anvil, pid {pid})"
                : null;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
