using MetaNode.Grains.Runtime.Process;

namespace MetaNode.Tests.Runtime;

/// <summary>Where the silo makes its vPods' cgroups, read from mount tables as real machines print them.</summary>
public sealed class CgroupHierarchyTests
{
    private const string HybridMounts = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        38 31 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """;

    private const string HybridSelf = """
        8:pids:/
        4:memory:/process_api/cd7d
        1:cpu:/
        0::/
        """;

    [Fact]
    public void HybridMachine_UsesTheV1Controllers_BelowTheSilosOwnCgroups()
    {
        var hierarchy = CgroupHierarchy.Detect(HybridMounts, HybridSelf);
        Assert.Equal(CgroupVersion.V1, hierarchy.Version);
        Assert.Equal("/sys/fs/cgroup/memory/process_api/cd7d/metanode", hierarchy.Parents["memory"]);
        Assert.Equal("/sys/fs/cgroup/pids/metanode", hierarchy.Parents["pids"]);
        Assert.Equal("/sys/fs/cgroup/cpu/metanode", hierarchy.Parents["cpu"]);
    }

    [Fact]
    public void CombinedV1Controllers_AndAContainersCgroupNamespace_AreFollowed()
    {
        const string mounts = """
            25 20 0:22 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct
            26 20 0:23 /docker/abc /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
            27 20 0:24 /docker/abc /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
            """;
        const string self = "5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc/silo\n3:pids:/docker/abc\n";
        var hierarchy = CgroupHierarchy.Detect(mounts, self);
        Assert.Equal(CgroupVersion.V1, hierarchy.Version);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct/metanode", hierarchy.Parents["cpu"]);
        Assert.Equal("/sys/fs/cgroup/memory/silo/metanode", hierarchy.Parents["memory"]);
    }

    [Fact]
    public void UnifiedMachine_UsesOneV2Directory()
    {
        const string mounts = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
        var hierarchy = CgroupHierarchy.Detect(mounts, "0::/system.slice/metanode.service\n");
        Assert.Equal(CgroupVersion.V2, hierarchy.Version);
        Assert.All(CgroupHierarchy.Controllers, c => Assert.Equal("/sys/fs/cgroup/system.slice/metanode.service/metanode", hierarchy.Parents[c]));
        Assert.Equal("/sys/fs/cgroup/system.slice/metanode.service", hierarchy.OwnV2);
    }

    [Fact]
    public void NoCgroups_SaysWhy()
    {
        var hierarchy = CgroupHierarchy.Detect("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n", "0::/\n");
        Assert.Equal(CgroupVersion.None, hierarchy.Version);
        Assert.Contains("controller", hierarchy.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void LimitFiles_WriteTheSpecsLimits_MemoryBeforeSwap()
    {
        var v1 = VPodCgroups.LimitFiles(CgroupVersion.V1, 1500, 64L << 20, 100);
        Assert.Equal(
            [("memory", "memory.limit_in_bytes", "67108864"), ("memory", "memory.memsw.limit_in_bytes", "67108864"), ("pids", "pids.max", "100"), ("cpu", "cpu.cfs_period_us", "100000"), ("cpu", "cpu.cfs_quota_us", "150000")],
            v1);
        var v2 = VPodCgroups.LimitFiles(CgroupVersion.V2, 250, 1L << 30, 64);
        Assert.Equal([("memory", "memory.max", "1073741824"), ("memory", "memory.swap.max", "0"), ("pids", "pids.max", "64"), ("cpu", "cpu.max", "25000 100000")], v2);
    }

    [Fact]
    public void LimitFiles_ClearTheBurstBeforeTheQuota_AndSetItAfter_InPercentOfTheQuota()
    {
        var v1 = VPodCgroups.LimitFiles(CgroupVersion.V1, 100, 64L << 20, 100, cpuBurstPercent: 100);
        Assert.Equal(
            [
                ("memory", "memory.limit_in_bytes", "67108864"), ("memory", "memory.memsw.limit_in_bytes", "67108864"), ("pids", "pids.max", "100"),
                ("cpu", "cpu.cfs_burst_us", "0"), ("cpu", "cpu.cfs_period_us", "100000"), ("cpu", "cpu.cfs_quota_us", "10000"), ("cpu", "cpu.cfs_burst_us", "10000"),
            ],
            v1);
        var v2 = VPodCgroups.LimitFiles(CgroupVersion.V2, 250, 1L << 30, 64, cpuBurstPercent: 40);
        Assert.Equal(
            [("memory", "memory.max", "1073741824"), ("memory", "memory.swap.max", "0"), ("pids", "pids.max", "64"), ("cpu", "cpu.max.burst", "0"), ("cpu", "cpu.max", "25000 100000"), ("cpu", "cpu.max.burst", "10000")],
            v2);
        Assert.Equal(("cpu", "cpu.cfs_burst_us", "0"), VPodCgroups.LimitFiles(CgroupVersion.V1, 100, 1, 1, cpuBurstPercent: 0)[^1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => VPodCgroups.LimitFiles(CgroupVersion.V1, 100, 1, 1, cpuBurstPercent: 101));
    }

    [Fact]
    public void ABurstAskedOfAKernelWithoutOne_IsRefused_TheDefaultIsNot()
    {
        Assert.Contains("no CFS burst", ProcessIsolation.CpuBurstProblem(50, supported: false), StringComparison.Ordinal);
        Assert.Contains("CpuBurstPercent is 50", ProcessIsolation.CpuBurstProblem(50, supported: false), StringComparison.Ordinal);
        Assert.Null(ProcessIsolation.CpuBurstProblem(null, supported: false));
        Assert.Null(ProcessIsolation.CpuBurstProblem(0, supported: false));
        Assert.Null(ProcessIsolation.CpuBurstProblem(50, supported: true));
    }

    [Fact]
    public void OomKills_AreReadFromEitherVersionsCounters()
    {
        Assert.Equal(2, VPodCgroups.ParseOomKills("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"));
        Assert.Equal(1, VPodCgroups.ParseOomKills("low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 0\n"));
        Assert.Equal(0, VPodCgroups.ParseOomKills("oom_kill_disable 0\nunder_oom 0\n"));
    }

    [Fact]
    public void V2Prepare_MovesTheSilosProcessesToALeaf_ThenDelegatesTheControllers()
    {
        var root = Directory.CreateTempSubdirectory("metanode-cgroup-v2-").FullName;
        try
        {
            var own = Path.Combine(root, "silo.service");
            Directory.CreateDirectory(own);
            File.WriteAllText(Path.Combine(own, "cgroup.controllers"), "cpuset cpu io memory pids\n");
            File.WriteAllText(Path.Combine(own, "cgroup.procs"), "4242\n");
            var hierarchy = new CgroupHierarchy(CgroupVersion.V2, CgroupHierarchy.Controllers.ToDictionary(c => c, _ => Path.Combine(own, CgroupHierarchy.ChildName)));
            var cgroups = new VPodCgroups(hierarchy);

            Assert.Null(cgroups.Prepare());
            Assert.Equal("+memory +pids +cpu", File.ReadAllText(Path.Combine(own, "cgroup.subtree_control")));
            Assert.Equal("+memory +pids +cpu", File.ReadAllText(Path.Combine(own, "metanode", "cgroup.subtree_control")));

            var procs = cgroups.Create("vpod-a", 500, 128L << 20, 32);
            Assert.Equal([Path.Combine(own, "metanode", "vpod-a", "cgroup.procs")], procs);
            Assert.Equal("134217728", File.ReadAllText(Path.Combine(own, "metanode", "vpod-a", "memory.max")));
            Assert.Equal("50000 100000", File.ReadAllText(Path.Combine(own, "metanode", "vpod-a", "cpu.max")));
            Assert.False(File.Exists(Path.Combine(own, "metanode", "vpod-a", "cpu.max.burst")));

            // A kernel with burst has the file in every cpu cgroup, the vPods' parent too.
            Assert.False(cgroups.BurstSupported);
            File.WriteAllText(Path.Combine(own, "metanode", "cpu.max.burst"), "0\n");
            Assert.True(cgroups.BurstSupported);
            cgroups.Create("vpod-a", 500, 128L << 20, 32, cpuBurstPercent: 100);
            Assert.Equal("50000", File.ReadAllText(Path.Combine(own, "metanode", "vpod-a", "cpu.max.burst")));

            File.WriteAllText(Path.Combine(own, "cgroup.controllers"), "cpu io\n");
            Assert.Contains("'memory' is not delegated", cgroups.Prepare(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
