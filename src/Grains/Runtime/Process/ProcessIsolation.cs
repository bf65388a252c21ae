using System.Globalization;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// Keeps process workloads from the silo and from each other. When the silo runs as root, each vPod gets a uid/gid of its own
/// (recorded in <c>{vpod}/uid</c>, a file only root can change) and a cgroup holding its cpu, memory and pids limits. The
/// workload starts through <c>/bin/sh</c>, which moves itself into the cgroup, then <c>setpriv</c>, which drops to the vPod's
/// uid with no supplementary groups, no capabilities and no-new-privileges before the program runs. The vPod's directory is
/// root's (0711) so the workload cannot swap its <c>data/</c>, <c>key/</c> or <c>logs/</c> for links; <c>data/</c> and <c>key/</c>
/// are the workload's own (0700), <c>logs/</c> stays root's (0700).
/// When isolation cannot be had, <see cref="Problem"/> says why and workloads run as the silo's user with no limits enforced.
/// </summary>
public sealed class ProcessIsolation
{
    /// <summary>An isolated vPod's data and key directories: its owner alone.</summary>
    public const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Directories on the way to a vPod's own: anyone may pass, nobody but root may list or change them.</summary>
    public const UnixFileMode PassThrough = PrivateDirectory | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    private const string Shell = "/bin/sh";
    private const string LinuxOnly = "Process workloads can only be isolated on Linux.";

    /// <summary>Joins every cgroup named (their count first), then runs the rest of the arguments in place of the shell.</summary>
    private const string JoinScript = "n=$1; shift; while [ \"$n\" -gt 0 ]; do echo $$ > \"$1\" || exit 125; shift; n=$((n-1)); done; exec \"$@\"";

    private readonly ProcessIsolationOptions _options;
    private readonly string? _setpriv;
    private readonly object _allocation = new();

    private ProcessIsolation(ProcessIsolationOptions options, string? setpriv, VPodCgroups? cgroups, string? problem)
    {
        _options = options;
        _setpriv = setpriv;
        Cgroups = cgroups;
        BurstSupported = cgroups?.BurstSupported ?? false;
        CpuBurstPercent = BurstSupported ? options.CpuBurstPercent ?? 100 : null;
        Problem = problem;
    }

    /// <summary>Why workloads are not isolated on this silo; null when they are.</summary>
    public string? Problem { get; }

    public bool Enabled => Problem is null;

    /// <summary>The vPods' cgroups; null when not isolating.</summary>
    public VPodCgroups? Cgroups { get; }

    public long PidsLimit => _options.PidsLimit;

    /// <summary>
    /// The burst each vPod's cgroup gets, in percent of its quota: the configured one, or by default the whole quota where the
    /// kernel offers burst; null where it has none (nothing to write).
    /// </summary>
    public int? CpuBurstPercent { get; }

    /// <summary>Whether this kernel offers CFS burst to the vPods' cgroups (looked up once, when isolation is detected).</summary>
    public bool BurstSupported { get; }

    /// <summary>Why the configured burst cannot be had here (a burst was asked of a kernel without one); null when it can.</summary>
    public static string? CpuBurstProblem(int? configured, bool supported) =>
        configured is > 0 && !supported
            ? $"{ProcessRuntimeOptions.SectionName}:Isolation:{nameof(ProcessIsolationOptions.CpuBurstPercent)} is {configured.Value.ToString(CultureInfo.InvariantCulture)}, but this kernel has no CFS burst (Linux 5.14 or later): leave it unset or set it to 0."
            : null;

    /// <summary>
    /// Finds out whether this silo can isolate its workloads (root, <c>setpriv</c>, cgroups it may create, a vPod root every uid
    /// can reach) and prepares the cgroup parents and the vPod root when it can.
    /// </summary>
    public static ProcessIsolation Detect(ProcessIsolationOptions options, string vpodsRoot)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(vpodsRoot);
        var setpriv = ProcessCommand.FindOnPath("setpriv") ?? (File.Exists("/usr/bin/setpriv") ? "/usr/bin/setpriv" : null);
        var problem = options.Mode switch
        {
            ProcessIsolationMode.Off => $"isolation is turned off ({ProcessRuntimeOptions.SectionName}:Isolation:Mode=Off)",
            _ when !OperatingSystem.IsLinux() => "workloads can only be isolated on Linux",
            _ when !Environment.IsPrivilegedProcess => "the silo does not run as root, so it cannot give workloads uids of their own",
            _ when setpriv is null => "setpriv (util-linux) is not installed",
            _ when !File.Exists(Shell) => $"{Shell} is missing",
            _ => null,
        };

        VPodCgroups? cgroups = null;
        if (problem is null)
        {
            var hierarchy = CgroupHierarchy.Detect(VPodCgroups.ReadOrEmpty("/proc/self/mountinfo"), VPodCgroups.ReadOrEmpty("/proc/self/cgroup"));
            if (hierarchy.Version == CgroupVersion.None)
            {
                problem = hierarchy.Problem;
            }
            else
            {
                cgroups = new VPodCgroups(hierarchy, Scope(Path.GetFullPath(vpodsRoot)));
                problem = cgroups.Prepare();
            }
        }

        problem ??= PrepareRoot(vpodsRoot);
        return new ProcessIsolation(options, setpriv, problem is null ? cgroups : null, problem);
    }

    /// <summary>
    /// The vPod's uid (and gid): the one recorded for it, else one of the range that no vPod of any silo on this machine holds.
    /// A uid is held by a claim file named after it in <see cref="ProcessIsolationOptions.UidRegistry"/>, created exclusively and
    /// naming the vPod's directory, so two silos never hand out the same uid; a claim whose directory is gone is taken over.
    /// </summary>
    public uint UidOf(string vpodId, string vpodDirectory) => UidOf(vpodId, vpodDirectory, out _);

    /// <inheritdoc cref="UidOf(string, string)"/>
    /// <param name="allocated">True when the uid was given now (a new vPod, or one that ran before isolation).</param>
    public uint UidOf(string vpodId, string vpodDirectory, out bool allocated)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException(LinuxOnly);
        }

        allocated = false;
        var record = Path.Combine(vpodDirectory, "uid");
        lock (_allocation)
        {
            if (ReadUid(record) is { } recorded && ClaimOwner(recorded) == vpodDirectory)
            {
                return recorded;
            }

            Directory.CreateDirectory(_options.UidRegistry);
            File.SetUnixFileMode(_options.UidRegistry, PrivateDirectory);
            var size = _options.UidRangeSize;
            var first = (long)(Hash(vpodDirectory) % (ulong)size);
            for (long step = 0; step < size; step++)
            {
                var uid = (uint)(_options.UidRangeStart + ((first + step) % size));
                if (TryClaim(uid, vpodDirectory))
                {
                    var temporary = record + ".tmp";
                    File.WriteAllText(temporary, uid.ToString(CultureInfo.InvariantCulture));
                    File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                    File.Move(temporary, record, overwrite: true);
                    allocated = true;
                    return uid;
                }
            }

            throw new InvalidOperationException(
                $"vPod '{vpodId}': every uid of {ProcessRuntimeOptions.SectionName}:Isolation ({_options.UidRangeStart}+{_options.UidRangeSize}) is held by a vPod on this machine; delete vPods or widen the range.");
        }
    }

    /// <summary>Gives the vPod's uid back (when the vPod is deleted).</summary>
    public void Release(string vpodDirectory)
    {
        if (ReadUid(Path.Combine(vpodDirectory, "uid")) is { } uid && ClaimOwner(uid) == vpodDirectory)
        {
            File.Delete(ClaimPath(uid));
        }
    }

    private bool TryClaim(uint uid, string vpodDirectory)
    {
        var path = ClaimPath(uid);
        for (var attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
                stream.Write(System.Text.Encoding.UTF8.GetBytes(vpodDirectory));
                return true;
            }
            catch (IOException) when (File.Exists(path))
            {
                var owner = ClaimOwner(uid);
                if (owner == vpodDirectory)
                {
                    return true;
                }

                if (owner is null || Directory.Exists(owner))
                {
                    return false;
                }

                File.Delete(path); // its vPod is gone without giving it back
            }
        }

        return false;
    }

    private string? ClaimOwner(uint uid)
    {
        try
        {
            return File.ReadAllText(ClaimPath(uid));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private string ClaimPath(uint uid) => Path.Combine(_options.UidRegistry, uid.ToString(CultureInfo.InvariantCulture));

    /// <summary>Eight hex digits naming a vPod root, to keep the cgroups of runtimes over different roots apart.</summary>
    private static string Scope(string vpodsRoot) => (Hash(vpodsRoot) & 0xffffffffUL).ToString("x8", CultureInfo.InvariantCulture);

    private static ulong Hash(string text)
    {
        // FNV-1a: stable across processes (string.GetHashCode is randomised per process).
        var hash = 14695981039346656037UL;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(text))
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }

    /// <summary>
    /// Gives an isolated vPod's directories their owners and modes: the vPod directory and <c>logs/</c> root's, <c>data/</c>
    /// and <c>key/</c> the vPod's (0700). With <paramref name="includeFiles"/> (a uid given now), the entries directly in
    /// <c>data/</c> and <c>key/</c> become the vPod's too (links themselves, never what they point at).
    /// </summary>
    public static void Own(string vpodDirectory, string data, string key, string logs, uint uid, bool includeFiles)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException(LinuxOnly);
        }

        NativeMethods.ChangeOwner(vpodDirectory, 0, 0);
        File.SetUnixFileMode(vpodDirectory, PassThrough);
        NativeMethods.ChangeOwner(logs, 0, 0);
        File.SetUnixFileMode(logs, PrivateDirectory);
        foreach (var directory in new[] { data, key })
        {
            NativeMethods.ChangeOwner(directory, uid, uid);
            File.SetUnixFileMode(directory, PrivateDirectory);
            if (includeFiles)
            {
                foreach (var entry in Directory.EnumerateFileSystemEntries(directory))
                {
                    NativeMethods.ChangeOwner(entry, uid, uid);
                }
            }
        }
    }

    /// <summary>
    /// The command line that runs <paramref name="argv"/> isolated: join the cgroups, drop to the uid, then exec. Each step
    /// execs the next, so the pid the silo started is the workload's own pid.
    /// </summary>
    public IReadOnlyList<string> Wrap(IReadOnlyList<string> argv, IReadOnlyList<string> cgroupProcsFiles, uint uid)
    {
        ArgumentNullException.ThrowIfNull(argv);
        ArgumentNullException.ThrowIfNull(cgroupProcsFiles);
        if (!Enabled)
        {
            throw new InvalidOperationException("Workloads are not isolated here: " + Problem);
        }

        var id = uid.ToString(CultureInfo.InvariantCulture);
        return
        [
            Shell, "-c", JoinScript, "metanode-vpod",
            cgroupProcsFiles.Count.ToString(CultureInfo.InvariantCulture), .. cgroupProcsFiles,
            _setpriv!, "--reuid", id, "--regid", id, "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
            .. argv,
        ];
    }

    /// <summary>Makes the vPod root (and its parent) pass-through, and checks that every uid can walk to it.</summary>
    private static string? PrepareRoot(string vpodsRoot)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException(LinuxOnly);
        }

        try
        {
            var root = Path.GetFullPath(vpodsRoot);
            Directory.CreateDirectory(root);
            File.SetUnixFileMode(root, PassThrough);
            var parent = Path.GetDirectoryName(root);
            if (parent is not null)
            {
                File.SetUnixFileMode(parent, File.GetUnixFileMode(parent) | UnixFileMode.OtherExecute | UnixFileMode.GroupExecute);
            }

            for (var ancestor = parent is null ? null : Path.GetDirectoryName(parent); ancestor is not null; ancestor = Path.GetDirectoryName(ancestor))
            {
                if ((File.GetUnixFileMode(ancestor) & UnixFileMode.OtherExecute) == 0)
                {
                    return $"the vPod root {root} lies below {ancestor}, which other users may not enter: set {ProcessRuntimeOptions.SectionName}:{nameof(ProcessRuntimeOptions.DataDirectory)} to a directory outside it";
                }
            }

            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"the vPod root {vpodsRoot} cannot be prepared: {ex.Message}";
        }
    }

    private static uint? ReadUid(string path)
    {
        try
        {
            return uint.TryParse(File.ReadAllText(path).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var uid) ? uid : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
