using MetaNode.VPods;

namespace MetaNode.Grains.Runtime;

/// <summary>
/// The directory where a vPod's workload keeps its own signing key. It belongs to the vPod, outlives restarts and re-adoption,
/// and goes when the vPod is deleted; it never lies in the silo's data directory or database. Every runtime gives each workload
/// one and names it in <see cref="EnvironmentVariable"/>: the process runtime a <c>key/</c> directory beside <c>data/</c> and
/// <c>logs/</c>, the container runtimes a volume of the vPod's own mounted at <see cref="ContainerPath"/>.
/// </summary>
public static class WorkloadKeyDirectory
{
    /// <summary>The variable naming the key directory in the workload's environment (an absolute path).</summary>
    public const string EnvironmentVariable = "METANODE_KEY_DIR";

    /// <summary>Where the key volume is mounted in a container (docker, kubernetes).</summary>
    public const string ContainerPath = "/vpod/key";

    /// <summary>Refuses a spec that mounts something else where the key volume goes (a container cannot mount two things at one path).</summary>
    public static void ThrowIfMountedOver(string vpodId, VPodSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.PersistentStorage is { } storage && IsKeyPath(storage.MountPath))
        {
            throw new InvalidVPodSpecException($"vPod '{vpodId}': persistent storage mount path '{storage.MountPath}' is where the vPod's key volume is mounted; choose another path.");
        }

        foreach (var volume in spec.Volumes)
        {
            if (IsKeyPath(volume.Target))
            {
                throw new InvalidVPodSpecException($"vPod '{vpodId}': volume '{volume.Source}:{volume.Target}' targets the path of the vPod's key volume ({ContainerPath}); choose another target.");
            }
        }
    }

    private static bool IsKeyPath(string? path) =>
        path is not null && string.Equals(path.TrimEnd('/'), ContainerPath, StringComparison.Ordinal);
}
