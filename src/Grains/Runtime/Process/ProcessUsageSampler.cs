using System.Collections.Concurrent;
using System.Diagnostics;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// Samples a workload's process group from <c>/proc</c>: CPU as the share of one core used since the vPod's previous sample,
/// resident memory summed over the group, and the network counters of the process's network namespace.
/// </summary>
internal sealed class ProcessUsageSampler
{
    private static readonly TimeSpan CpuWindow = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MinCpuWindow = TimeSpan.FromMilliseconds(100);

    private readonly long _clockTicksPerSecond;
    private readonly ConcurrentDictionary<string, CpuSample> _cpuSamples = new(StringComparer.Ordinal);

    public ProcessUsageSampler(long clockTicksPerSecond) => _clockTicksPerSecond = clockTicksPerSecond;

    /// <summary>
    /// One sample of the process <paramref name="findLive"/> finds; null when it finds none. The first sample of a process waits
    /// ~200 ms to measure a window, as does a sample taken less than 100 ms after the previous one.
    /// </summary>
    public async Task<WorkloadUsage?> SampleAsync(string vpodId, Func<ProcStat?> findLive, VPodSpec spec, CancellationToken cancellationToken)
    {
        if (findLive() is not { } stat)
        {
            return null;
        }

        var (ticks, members) = SampleGroup(stat);
        var now = Stopwatch.GetTimestamp();
        var previous = _cpuSamples.TryGetValue(vpodId, out var sample) && sample.Pid == stat.Pid && sample.StartMarker == stat.StartTicks ? sample : null;
        if (previous is null || Stopwatch.GetElapsedTime(previous.Timestamp, now) < MinCpuWindow)
        {
            previous ??= new CpuSample(stat.Pid, stat.StartTicks, ticks, now);
            var wait = CpuWindow - Stopwatch.GetElapsedTime(previous.Timestamp);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            }

            if (findLive() is not { } again)
            {
                return null;
            }

            (ticks, members) = SampleGroup(again);
            now = Stopwatch.GetTimestamp();
        }

        var seconds = Stopwatch.GetElapsedTime(previous.Timestamp, now).TotalSeconds;
        var cpu = seconds > 0 ? Math.Max(0, ticks - previous.Ticks) / (double)_clockTicksPerSecond / seconds * 100 : 0;
        _cpuSamples[vpodId] = new CpuSample(stat.Pid, stat.StartTicks, ticks, now);

        long memory = 0;
        foreach (var member in members)
        {
            memory += ProcFs.ReadResidentBytes(member.Pid);
        }

        var (rx, tx) = ProcFs.ReadNetworkBytes(stat.Pid);
        return new WorkloadUsage(Math.Round(cpu, 2), memory, spec.MemoryBytes, rx, tx);
    }

    public void Forget(string vpodId) => _cpuSamples.TryRemove(vpodId, out _);

    private static (long Ticks, List<ProcStat> Members) SampleGroup(ProcStat leader)
    {
        var members = leader.ProcessGroup == leader.Pid ? ProcFs.ReadGroup(leader.Pid) : [];
        if (members.Count == 0)
        {
            members.Add(leader);
        }

        long ticks = 0;
        foreach (var member in members)
        {
            ticks += member.TotalTicks;
        }

        return (ticks, members);
    }
}

/// <summary>The CPU time of a workload at one instant, for computing usage between two samples.</summary>
internal sealed record CpuSample(int Pid, long StartMarker, long Ticks, long Timestamp);
