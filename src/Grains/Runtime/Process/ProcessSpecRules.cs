using System.Globalization;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>What the process runtime cannot honour in a spec: a pure decision, made at create.</summary>
public static class ProcessSpecRules
{
    /// <summary>The first field of <paramref name="spec"/> a local process cannot be given, explained; null when there is none.</summary>
    public static string? Unsupported(VPodSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Volumes is { Count: > 0 } volumes)
        {
            return $"spec.volumes ('{volumes[0].Source}' → '{volumes[0].Target}') cannot be mounted by the process runtime; a process vPod keeps its files in the directory named by METANODE_DATA_DIR. Use the docker or kubernetes runtime for volumes.";
        }

        if (spec.PersistentStorage is { } storage)
        {
            return $"spec.persistentStorage ('{storage.MountPath}') cannot be given to a process vPod: its data directory (METANODE_DATA_DIR) already survives restarts. Use the docker or kubernetes runtime for sized storage.";
        }

        if (spec.Replicas != 1)
        {
            return $"spec.replicas is {spec.Replicas.ToString(CultureInfo.InvariantCulture)}; a process vPod runs exactly one process. Use a cluster of vPods, or the kubernetes runtime for replicas.";
        }

        if (spec.NetworkPolicy is not null)
        {
            return "spec.networkPolicy cannot be enforced on a process vPod: it shares the silo machine's network. Use the kubernetes runtime for network policies.";
        }

        if (spec.ImagePullSecrets is { Count: > 0 } secrets)
        {
            return $"spec.imagePullSecrets ('{secrets[0]}') mean nothing to a process vPod, which runs no image.";
        }

        return null;
    }
}
