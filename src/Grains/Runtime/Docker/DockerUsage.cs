using Docker.DotNet.Models;

namespace MetaNode.Grains.Runtime.Docker;

/// <summary>Turns one engine stats sample into <see cref="WorkloadUsage"/>, the way <c>docker stats</c> computes it.</summary>
public static class DockerUsage
{
    /// <summary>
    /// CPU: the container's share of the host's cpu time between the engine's two readings, times the online cpus (100 = one
    /// core busy). Memory: usage less the inactive page cache; the limit is the engine's (the spec's when the engine reports none).
    /// Network: bytes received and sent summed over the container's interfaces (none in host network mode).
    /// </summary>
    public static WorkloadUsage From(ContainerStatsResponse stats, long specMemoryBytes)
    {
        ArgumentNullException.ThrowIfNull(stats);
        double cpu = 0;
        if (stats.CPUStats?.CPUUsage is { } now && stats.PreCPUStats?.CPUUsage is { } before)
        {
            var cpuDelta = (double)now.TotalUsage - before.TotalUsage;
            var systemDelta = (double)stats.CPUStats.SystemUsage - stats.PreCPUStats.SystemUsage;
            var cpus = stats.CPUStats.OnlineCPUs > 0 ? stats.CPUStats.OnlineCPUs : (uint)(now.PercpuUsage?.Count ?? 1);
            if (cpuDelta > 0 && systemDelta > 0 && stats.PreCPUStats.SystemUsage > 0)
            {
                cpu = cpuDelta / systemDelta * cpus * 100;
            }
        }

        long memory = 0;
        long limit = specMemoryBytes;
        if (stats.MemoryStats is { } m)
        {
            ulong cache = 0;
            if (m.Stats is { } detail && (detail.TryGetValue("total_inactive_file", out cache) || detail.TryGetValue("inactive_file", out cache)) && cache < m.Usage)
            {
                memory = (long)(m.Usage - cache);
            }
            else
            {
                memory = (long)m.Usage;
            }

            if (m.Limit is > 0 and < long.MaxValue)
            {
                limit = (long)m.Limit;
            }
        }

        long rx = 0;
        long tx = 0;
        foreach (var network in stats.Networks?.Values ?? [])
        {
            rx += (long)network.RxBytes;
            tx += (long)network.TxBytes;
        }

        return new WorkloadUsage(Math.Round(cpu, 2), memory, limit, rx, tx);
    }
}
