using MetaNode.Federation;
using MetaNode.Grains.Runtime.Process;
using MetaNode.VPods;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Federation;

/// <summary>Finds a vPod's data directory on this machine, where a job writes its partition (process vPods: <c>{data}/vpods/{id}/data</c>).</summary>
public sealed class VPodDataDirectories(IOptions<ProcessRuntimeOptions> processOptions)
{
    public string DataDirectoryOf(string vpodId, DeploymentMethod method)
    {
        if (method != DeploymentMethod.Process)
        {
            throw new InvalidJobSpecException([$"vPod '{vpodId}' runs on the {method.ToString().ToLowerInvariant()} runtime: federated jobs place data partitions only in process vPods' data directories for now."]);
        }

        return Path.Combine(Path.GetFullPath(processOptions.Value.DataDirectory), "vpods", vpodId, "data");
    }
}
