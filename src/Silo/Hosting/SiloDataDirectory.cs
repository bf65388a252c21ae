namespace MetaNode.Silo.Hosting;

/// <summary>
/// The silo's data directory (database, certificates, identities, dev chain) is the silo's alone: 0700, its files 0600, so
/// that no other user of the machine, and no workload running under a uid of its own, can read it.
/// </summary>
public static class SiloDataDirectory
{
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates the directory when missing and (re)sets its mode to 0700, whoever made it and however.</summary>
    public static void MakePrivate(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            Directory.CreateDirectory(directory);
            return;
        }

        Directory.CreateDirectory(directory, DirectoryMode);
        File.SetUnixFileMode(directory, DirectoryMode);
    }

    /// <summary>
    /// Creates the file empty when missing, so that whoever opens it next (SQLite) finds it 0600 and gives its journal files the
    /// same mode; an existing file is set to 0600.
    /// </summary>
    public static void MakePrivateFile(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }

        if (!File.Exists(path))
        {
            using var created = new FileStream(path, new FileStreamOptions { Mode = System.IO.FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = FileMode });
        }

        File.SetUnixFileMode(path, FileMode);
    }
}
