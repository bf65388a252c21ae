using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// Gives a process vPod free loopback ports so several can run side by side: each port 0 in its spec is replaced by a free
/// port, and one running the reference workload with no port at all gets one. Specs for other runtimes are left as they are.
/// </summary>
internal static class ProcessPortAssignment
{
    /// <summary>The spec with its ports assigned from <see cref="LoopbackPorts.Free(int)"/>.</summary>
    public static VPodSpec AssignFreePorts(VPodSpec spec) => AssignFreePorts(spec, LoopbackPorts.Free);

    /// <summary>The spec with its ports assigned from <paramref name="free"/>, which hands out the given number of free ports.</summary>
    public static VPodSpec AssignFreePorts(VPodSpec spec, Func<int, int[]> free)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(free);
        if (spec.DeploymentMethod != DeploymentMethod.Process)
        {
            return spec;
        }

        if (spec.Ports.Count == 0)
        {
            return string.IsNullOrEmpty(spec.Image) && spec.Command.Count == 0 ? spec with { Ports = new[] { free(1)[0] } } : spec;
        }

        var wanted = spec.Ports.Count(port => port == 0);
        if (wanted == 0)
        {
            return spec;
        }

        // A port the spec already names is never handed out a second time; ask again until there are enough.
        var given = new Queue<int>(free(wanted).Where(port => !spec.Ports.Contains(port)));
        while (given.Count < wanted)
        {
            foreach (var port in free(wanted - given.Count).Where(port => !spec.Ports.Contains(port) && !given.Contains(port)))
            {
                given.Enqueue(port);
            }
        }

        return spec with { Ports = spec.Ports.Select(port => port == 0 ? given.Dequeue() : port).ToArray() };
    }
}
