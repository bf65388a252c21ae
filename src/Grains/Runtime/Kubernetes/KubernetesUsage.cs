using System.Text.Json;
using K8sQuantity = k8s.Models.ResourceQuantity;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Kubernetes;

/// <summary>Sums a <c>metrics.k8s.io/v1beta1</c> PodMetricsList into <see cref="WorkloadUsage"/>. Pure.</summary>
public static class KubernetesUsage
{
    /// <summary>CPU is a percentage of the vPod's cpu limit times the pods measured; memory limit likewise. Null when no pod was measured.</summary>
    public static WorkloadUsage? FromPodMetrics(JsonElement list, VPodSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!list.TryGetProperty("items", out var items) || items.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        decimal cores = 0;
        decimal memory = 0;
        var pods = 0;
        foreach (var pod in items.EnumerateArray())
        {
            if (!pod.TryGetProperty("containers", out var containers) || containers.ValueKind != JsonValueKind.Array)
            {
                continue;
            }

            pods++;
            foreach (var container in containers.EnumerateArray())
            {
                if (container.TryGetProperty("usage", out var usage))
                {
                    cores += Read(usage, "cpu");
                    memory += Read(usage, "memory");
                }
            }
        }

        if (pods == 0)
        {
            return null;
        }

        var limitCores = spec.CpuMillis / 1000m * pods;
        var percent = limitCores > 0 ? (double)(cores / limitCores * 100m) : 0;
        return new WorkloadUsage(percent, (long)memory, spec.MemoryBytes * pods, 0, 0);
    }

    private static decimal Read(JsonElement usage, string name) =>
        usage.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? new K8sQuantity(value.GetString()).ToDecimal()
            : 0;
}
