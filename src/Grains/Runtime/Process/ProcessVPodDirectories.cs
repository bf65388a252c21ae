namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// The directories of the process runtime's vPods: <c>{root}/vpods/{vpodId}/</c> with <c>data/</c> (the workload's working
/// directory, <c>METANODE_DATA_DIR</c>), <c>logs/</c> and <c>key/</c> (the workload's own key, <c>METANODE_KEY_DIR</c>, mode 0700).
/// All of them survive stops, restarts and re-adoption by another runtime instance over the same root; deleting the vPod
/// deletes its whole directory. Ids are checked by the runtime before they get here.
/// </summary>
internal sealed class ProcessVPodDirectories
{
    /// <summary>The mode of a key directory: only its owner (the vPod's own uid when isolated, else the silo's user) may enter, list or write it.</summary>
    public const UnixFileMode KeyMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <param name="root">The runtime's root (<see cref="ProcessRuntimeOptions.DataDirectory"/>); a relative path is resolved against the working directory.</param>
    public ProcessVPodDirectories(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        VPodsRoot = Path.Combine(Path.GetFullPath(root), "vpods");
    }

    /// <summary>The absolute directory holding one directory per vPod.</summary>
    public string VPodsRoot { get; }

    public string VPodOf(string vpodId) => Path.Combine(VPodsRoot, vpodId);

    public string DataOf(string vpodId) => Path.Combine(VPodsRoot, vpodId, "data");

    public string LogsOf(string vpodId) => Path.Combine(VPodsRoot, vpodId, "logs");

    public string KeyOf(string vpodId) => Path.Combine(VPodsRoot, vpodId, "key");

    /// <summary>Creates the vPod's directories when missing and (re)sets the key directory's mode to 0700, whoever created it.</summary>
    public void Ensure(string vpodId)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The process runtime needs Linux: a vPod's key directory is made private with a Unix file mode.");
        }

        Directory.CreateDirectory(DataOf(vpodId));
        Directory.CreateDirectory(LogsOf(vpodId));
        var key = KeyOf(vpodId);
        Directory.CreateDirectory(key, KeyMode);
        File.SetUnixFileMode(key, KeyMode);
    }
}
