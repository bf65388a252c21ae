namespace MetaNode.Grains.Runtime.Process;

/// <summary>Whether process vPods run isolated from the silo and from each other.</summary>
public enum ProcessIsolationMode
{
    /// <summary>Isolate when the silo can (it runs as root, <c>setpriv</c> is installed and cgroups can be made); otherwise say so at start and run unisolated.</summary>
    Auto = 0,

    /// <summary>Isolate, and refuse to start the silo when it cannot.</summary>
    Required = 1,

    /// <summary>Run workloads as the silo's own user with no enforced limits (development only).</summary>
    Off = 2,
}

/// <summary>
/// Isolation of process vPods (section <c>MetaNode:Runtime:Process:Isolation</c>). An isolated workload runs under a numeric
/// uid/gid of its own taken from <see cref="UidRangeStart"/> … <see cref="UidRangeStart"/> + <see cref="UidRangeSize"/> − 1 (no
/// passwd entry is needed), with no supplementary groups, no capabilities and no-new-privileges, in a cgroup of its own that
/// enforces the spec's cpu and memory and <see cref="PidsLimit"/>.
/// </summary>
public sealed class ProcessIsolationOptions
{
    public ProcessIsolationMode Mode { get; set; } = ProcessIsolationMode.Auto;

    /// <summary>The first uid (and gid) given to a vPod. Keep the range clear of the machine's own users.</summary>
    public long UidRangeStart { get; set; } = 200_000;

    /// <summary>How many uids the range holds: at most that many process vPods on one machine.</summary>
    public long UidRangeSize { get; set; } = 65_536;

    /// <summary>
    /// A root-only directory shared by every silo on the machine, holding one claim file per uid in use, so that no two vPods
    /// (of this silo or another) ever run under the same uid.
    /// </summary>
    public string UidRegistry { get; set; } = "/var/lib/metanode/uids";

    /// <summary>The most processes and threads one vPod may run at once (a fork bomb stops there).</summary>
    public long PidsLimit { get; set; } = 1024;

    /// <summary>
    /// How much of its cpu quota a vPod may save up while idle and spend at once, in percent of the quota (the kernel's CFS burst:
    /// <c>cpu.max.burst</c>, <c>cpu.cfs_burst_us</c> on cgroup v1; Linux 5.14 and later). A validator holding 100 millicores gets
    /// 10 ms every 100 ms; its round takes about 13 ms of cpu, which without burst always spans two periods (100 ms more). With
    /// burst, what it did not use in a quiet period carries over, up to this share of one quota: its average stays its share,
    /// only the bunching changes. Null (the default): the whole quota where the kernel offers burst, none where it does not. A
    /// value set here is required: on a kernel without burst the silo refuses to start rather than run without it. 0 turns it off.
    /// </summary>
    public int? CpuBurstPercent { get; set; }
}
