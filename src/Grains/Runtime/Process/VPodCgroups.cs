using System.Globalization;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// The vPods' cgroups in a <see cref="CgroupHierarchy"/>: one per vPod, named by its id, holding its cpu, memory and pids limits.
/// A workload joins it before its program starts (see <see cref="ProcessIsolation"/>), so nothing it forks escapes it. Only file
/// I/O on the cgroup file system; the decisions (what to write where) are in <see cref="LimitFiles"/>.
/// </summary>
public sealed class VPodCgroups
{
    /// <summary>The scheduling period the cpu quota is a share of (the kernel's default, 100 ms).</summary>
    public const long CpuPeriodMicroseconds = 100_000;

    private readonly CgroupHierarchy _hierarchy;
    private readonly string _scope;

    /// <param name="scope">
    /// Appended to each vPod's cgroup name, so that two runtimes on one machine (different vPod roots) never share a cgroup even
    /// if their vPod ids meet; empty for none.
    /// </param>
    public VPodCgroups(CgroupHierarchy hierarchy, string scope = "")
    {
        ArgumentNullException.ThrowIfNull(scope);
        _scope = scope;
        ArgumentNullException.ThrowIfNull(hierarchy);
        if (hierarchy.Version == CgroupVersion.None)
        {
            throw new ArgumentException("There are no cgroups to manage: " + hierarchy.Problem, nameof(hierarchy));
        }

        _hierarchy = hierarchy;
    }

    public CgroupVersion Version => _hierarchy.Version;

    /// <summary>
    /// Makes the parent directories and, on v2, enables the controllers for them. A v2 cgroup with processes cannot hand
    /// controllers to children, so the silo's own processes first move into a <c>silo</c> leaf beside <c>metanode</c>.
    /// Returns why it cannot be done, or null.
    /// </summary>
    public string? Prepare()
    {
        try
        {
            if (_hierarchy.Version == CgroupVersion.V1)
            {
                foreach (var parent in _hierarchy.Parents.Values.Distinct(StringComparer.Ordinal))
                {
                    Directory.CreateDirectory(parent);
                }

                return null;
            }

            var own = _hierarchy.OwnV2!;
            var enable = string.Join(' ', CgroupHierarchy.Controllers.Select(static c => "+" + c));
            var available = ReadOrEmpty(Path.Combine(own, "cgroup.controllers")).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (CgroupHierarchy.Controllers.FirstOrDefault(c => !available.Contains(c, StringComparer.Ordinal)) is { } missing)
            {
                return $"the controller '{missing}' is not delegated to the silo's cgroup {own}";
            }

            if (!TryWrite(Path.Combine(own, "cgroup.subtree_control"), enable))
            {
                // "No internal processes": move this cgroup's processes into a leaf, then enable the controllers for children.
                var leaf = Path.Combine(own, "silo");
                Directory.CreateDirectory(leaf);
                foreach (var pid in ReadOrEmpty(Path.Combine(own, "cgroup.procs")).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    TryWrite(Path.Combine(leaf, "cgroup.procs"), pid);
                }

                File.WriteAllText(Path.Combine(own, "cgroup.subtree_control"), enable);
            }

            var metanode = _hierarchy.Parents["memory"];
            Directory.CreateDirectory(metanode);
            File.WriteAllText(Path.Combine(metanode, "cgroup.subtree_control"), enable);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"the silo cannot make cgroups below {_hierarchy.Parents["memory"]}: {ex.Message}";
        }
    }

    /// <summary>Whether the kernel lets a cgroup spend saved-up quota at once (CFS burst, Linux 5.14 and later).</summary>
    public bool BurstSupported => File.Exists(Path.Combine(_hierarchy.Parents["cpu"], BurstFile(_hierarchy.Version)));

    /// <summary>Makes (or keeps) the vPod's cgroup with these limits; returns the <c>cgroup.procs</c> files the workload must join.</summary>
    /// <param name="cpuBurstPercent">The burst, in percent of the quota; null where the kernel has none (nothing is written).</param>
    public IReadOnlyList<string> Create(string vpodId, long cpuMillis, long memoryBytes, long pidsLimit, int? cpuBurstPercent = null)
    {
        var procs = new List<string>();
        foreach (var directory in DirectoriesOf(vpodId))
        {
            Directory.CreateDirectory(directory);

            // Marked as in use (see RemoveEmpty): a kept cgroup is empty until the workload joins it.
            Directory.SetLastWriteTimeUtc(directory, DateTime.UtcNow);
            procs.Add(Path.Combine(directory, "cgroup.procs"));
        }

        foreach (var (controller, file, value) in LimitFiles(_hierarchy.Version, cpuMillis, memoryBytes, pidsLimit, cpuBurstPercent))
        {
            var path = Path.Combine(DirectoryOf(vpodId, controller), file);
            if (file is "memory.memsw.limit_in_bytes" or "memory.swap.max" && !File.Exists(path))
            {
                continue; // no swap accounting on this kernel: there is no swap to escape into either
            }

            File.WriteAllText(path, value);
        }

        return procs;
    }

    /// <summary>
    /// What to write to enforce the limits, in order (on v1 the memory+swap limit may not be below the memory limit, so the
    /// memory limit goes first; both are rewritten on every start). The burst may not exceed the quota: it is cleared before the
    /// quota is written and set after, whenever the kernel has it, so a kept cgroup also loses a burst no longer configured.
    /// </summary>
    /// <param name="cpuBurstPercent">0–100 % of the quota; null writes no burst (a kernel without it).</param>
    public static IReadOnlyList<(string Controller, string File, string Value)> LimitFiles(CgroupVersion version, long cpuMillis, long memoryBytes, long pidsLimit, int? cpuBurstPercent = null)
    {
        if (cpuBurstPercent is < 0 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(cpuBurstPercent), cpuBurstPercent, "a burst is 0 to 100 % of the quota.");
        }

        var memory = memoryBytes.ToString(CultureInfo.InvariantCulture);
        var pids = pidsLimit.ToString(CultureInfo.InvariantCulture);
        var quotaMicroseconds = Math.Max(1000, cpuMillis * CpuPeriodMicroseconds / 1000);
        var quota = quotaMicroseconds.ToString(CultureInfo.InvariantCulture);
        var period = CpuPeriodMicroseconds.ToString(CultureInfo.InvariantCulture);
        List<(string, string, string)> files = version switch
        {
            CgroupVersion.V1 =>
            [
                ("memory", "memory.limit_in_bytes", memory),
                ("memory", "memory.memsw.limit_in_bytes", memory),
                ("pids", "pids.max", pids),
                ("cpu", "cpu.cfs_period_us", period),
                ("cpu", "cpu.cfs_quota_us", quota),
            ],
            CgroupVersion.V2 =>
            [
                ("memory", "memory.max", memory),
                ("memory", "memory.swap.max", "0"),
                ("pids", "pids.max", pids),
                ("cpu", "cpu.max", $"{quota} {period}"),
            ],
            _ => throw new ArgumentOutOfRangeException(nameof(version), version, "no cgroups"),
        };
        if (cpuBurstPercent is { } percent)
        {
            // The kernel refuses a quota below the burst in place: a kept cgroup's old burst goes first.
            files.Insert(files.FindIndex(static f => f.Item1 == "cpu"), ("cpu", BurstFile(version), "0"));
            files.Add(("cpu", BurstFile(version), (quotaMicroseconds * percent / 100).ToString(CultureInfo.InvariantCulture)));
        }

        return files;
    }

    private static string BurstFile(CgroupVersion version) => version == CgroupVersion.V1 ? "cpu.cfs_burst_us" : "cpu.max.burst";

    /// <summary>How many times the kernel's OOM killer has killed a process of the vPod's cgroup; 0 when it has no cgroup.</summary>
    public long OomKills(string vpodId)
    {
        var directory = DirectoryOf(vpodId, "memory");
        var file = _hierarchy.Version == CgroupVersion.V1 ? "memory.oom_control" : "memory.events";
        return ParseOomKills(ReadOrEmpty(Path.Combine(directory, file)));
    }

    /// <summary>The <c>oom_kill</c> counter of a v1 <c>memory.oom_control</c> or a v2 <c>memory.events</c>.</summary>
    public static long ParseOomKills(string text)
    {
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && parts[0] == "oom_kill" && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count))
            {
                return count;
            }
        }

        return 0;
    }

    /// <summary>The processes in the vPod's cgroup (whatever the workload forked, wherever it moved in its session or group).</summary>
    public IReadOnlyList<int> Processes(string vpodId)
    {
        var text = ReadOrEmpty(Path.Combine(DirectoryOf(vpodId, "pids"), "cgroup.procs"));
        var pids = new List<int>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0)
            {
                pids.Add(pid);
            }
        }

        return pids;
    }

    /// <summary>Kills every process in the vPod's cgroup.</summary>
    public void KillAll(string vpodId)
    {
        foreach (var pid in Processes(vpodId))
        {
            try
            {
                NativeMethods.SendSignal(pid, NativeMethods.SigKill);
            }
            catch (InvalidOperationException)
            {
                // Gone in between, or not ours to signal: the rmdir below tells.
            }
        }
    }

    /// <summary>Removes the vPod's cgroup (killing what still runs in it). False when a directory could not be removed yet.</summary>
    public async Task<bool> RemoveAsync(string vpodId, CancellationToken cancellationToken = default)
    {
        var removed = true;
        for (var attempt = 0; attempt < 50; attempt++)
        {
            KillAll(vpodId);
            removed = true;
            foreach (var directory in DirectoriesOf(vpodId))
            {
                try
                {
                    if (Directory.Exists(directory))
                    {
                        Directory.Delete(directory); // a cgroup directory goes with rmdir alone; its files are not files
                    }
                }
                catch (IOException)
                {
                    removed = false;
                }
            }

            if (removed)
            {
                return true;
            }

            await Task.Delay(20, cancellationToken).ConfigureAwait(false); // killed processes leave their cgroup once reaped
        }

        return removed;
    }

    /// <summary>
    /// Removes the empty cgroups of this scope's vPods made before <paramref name="madeBefore"/>: left by workloads that ended while
    /// no silo of this vPod root ran (a vPod deleted meanwhile, or re-placed elsewhere, never comes back for its cgroup here). A
    /// cgroup still holding a process cannot be removed (the kernel refuses), and one the runtime needs again is made again before
    /// its workload joins it. Returns how many directories were removed.
    /// </summary>
    public int RemoveEmpty(DateTime madeBefore)
    {
        if (_scope.Length == 0)
        {
            return 0; // without a scope, nothing tells this runtime's cgroups from another's
        }

        var removed = 0;
        foreach (var parent in _hierarchy.Parents.Values.Distinct(StringComparer.Ordinal))
        {
            IEnumerable<string> directories;
            try
            {
                directories = Directory.EnumerateDirectories(parent, "vpod-*." + _scope).ToList();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            foreach (var directory in directories)
            {
                try
                {
                    if (Directory.GetLastWriteTimeUtc(directory) < madeBefore
                        && ReadOrEmpty(Path.Combine(directory, "cgroup.procs")).Trim().Length == 0)
                    {
                        Directory.Delete(directory);
                        removed++;
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // A process joined it meanwhile, or it went already.
                }
            }
        }

        return removed;
    }

    /// <summary>The vPod's cgroup directory for <paramref name="controller"/> (one of <see cref="CgroupHierarchy.Controllers"/>).</summary>
    public string DirectoryOf(string vpodId, string controller) =>
        Path.Combine(_hierarchy.Parents[controller], _scope.Length == 0 ? vpodId : $"{vpodId}.{_scope}");

    private IEnumerable<string> DirectoriesOf(string vpodId) =>
        CgroupHierarchy.Controllers.Select(c => DirectoryOf(vpodId, c)).Distinct(StringComparer.Ordinal);

    /// <summary>A kernel file's text; empty when it cannot be read (gone, or not there on this kernel).</summary>
    internal static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }

    private static bool TryWrite(string path, string value)
    {
        try
        {
            File.WriteAllText(path, value);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
