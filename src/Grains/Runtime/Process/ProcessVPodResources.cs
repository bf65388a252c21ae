using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// A vPod's footprint on this machine outside its processes: its directories (see <see cref="ProcessVPodDirectories"/>), owned by
/// the vPod's own uid when workloads are isolated, and its cgroup. Made before they are used; deleted with the vPod.
/// </summary>
internal sealed partial class ProcessVPodResources
{
    private readonly ILogger _logger;
    private readonly ProcessVPodDirectories _directories;
    private readonly ProcessIsolation _isolation;

    public ProcessVPodResources(ILogger logger, ProcessVPodDirectories directories, ProcessIsolation isolation)
    {
        _logger = logger;
        _directories = directories;
        _isolation = isolation;
    }

    /// <summary>Creates the vPod's directories; when isolating, gives them their owners and returns the vPod's uid.</summary>
    public uint? Ensure(string vpodId)
    {
        _directories.Ensure(vpodId);
        if (!_isolation.Enabled)
        {
            return null;
        }

        var directory = _directories.VPodOf(vpodId);
        var uid = _isolation.UidOf(vpodId, directory, out var allocated);
        ProcessIsolation.Own(directory, _directories.DataOf(vpodId), _directories.KeyOf(vpodId), _directories.LogsOf(vpodId), uid, allocated);
        return uid;
    }

    /// <summary>Deletes the vPod's cgroup (when it is empty) and its whole directory, key directory included; its uid is released.</summary>
    public async Task DeleteAsync(string vpodId, CancellationToken cancellationToken)
    {
        // The key directory goes with the rest: the vPod and its identity are gone.
        var directory = _directories.VPodOf(vpodId);
        if (_isolation.Cgroups is { } cgroups && !await cgroups.RemoveAsync(vpodId, cancellationToken).ConfigureAwait(false))
        {
            LogCgroupStillBusy(_logger, vpodId);
        }

        if (Directory.Exists(directory))
        {
            _isolation.Release(directory);
            DeleteDirectory(directory);
            LogRemoved(_logger, vpodId, directory);
        }
    }

    private static void DeleteDirectory(string directory)
    {
        // A process that outlived its group kill could still be creating files: retry a few times.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
                return;
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            catch (IOException) when (attempt < 3)
            {
                Thread.Yield();
            }
        }
    }
}
