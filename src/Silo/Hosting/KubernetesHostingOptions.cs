using System.Net;

namespace MetaNode.Silo.Hosting;

/// <summary>
/// Running the silo as a pod (section <c>MetaNode:Kubernetes</c>). When enabled, the silo's identity comes from the downward API:
/// <c>POD_IP</c> is the address it advertises to other silos and clients, <c>POD_NAME</c> its silo name, <c>POD_NAMESPACE</c> the
/// default namespace of the kubernetes vPod runtime. Missing variables stop the silo at start-up (exit code 2).
/// </summary>
public sealed class KubernetesHostingOptions
{
    public const string PodIpVariable = "POD_IP";
    public const string PodNameVariable = "POD_NAME";
    public const string PodNamespaceVariable = "POD_NAMESPACE";

    public bool Enabled { get; set; }

    /// <summary>Read from <c>POD_IP</c>, not from the section.</summary>
    public string? PodIp { get; set; }

    /// <summary>Read from <c>POD_NAME</c>, not from the section.</summary>
    public string? PodName { get; set; }

    /// <summary>Read from <c>POD_NAMESPACE</c>, not from the section.</summary>
    public string? PodNamespace { get; set; }

    /// <summary>Takes the pod's identity from the environment variables the manifests set from the downward API.</summary>
    public void ReadPodEnvironment(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        PodIp = configuration[PodIpVariable];
        PodName = configuration[PodNameVariable];
        PodNamespace = configuration[PodNamespaceVariable];
    }

    /// <summary>Every reason the pod's identity cannot be used, naming the variable and how to set it.</summary>
    public IEnumerable<string> Validate(MetaNodeSiloOptions silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        if (!Enabled)
        {
            yield break;
        }

        const string Key = "MetaNode:Kubernetes:Enabled";
        if (silo.Profile != SiloProfile.Cluster)
        {
            yield return $"{Key} needs MetaNode:Profile 'Cluster' (silos in pods share PostgreSQL), got '{silo.Profile}'.";
        }

        if (string.IsNullOrWhiteSpace(PodIp))
        {
            yield return $"{Key} is true but the environment variable {PodIpVariable} is not set: set it from the downward API (fieldRef status.podIP).";
        }
        else if (!IPAddress.TryParse(PodIp, out _))
        {
            yield return $"{PodIpVariable} must be the pod's IP address, got '{PodIp}'.";
        }

        if (string.IsNullOrWhiteSpace(PodName))
        {
            yield return $"{Key} is true but the environment variable {PodNameVariable} is not set: set it from the downward API (fieldRef metadata.name).";
        }

        if (string.IsNullOrWhiteSpace(PodNamespace))
        {
            yield return $"{Key} is true but the environment variable {PodNamespaceVariable} is not set: set it from the downward API (fieldRef metadata.namespace).";
        }

        if (MetaNodeSiloOptionsValidator.TryParseHostPort(silo.HttpAddress, out var host, out _)
            && IPAddress.TryParse(host.Trim('[', ']'), out var address)
            && IPAddress.IsLoopback(address))
        {
            yield return $"MetaNode:HttpAddress must listen on the pod's address (e.g. 0.0.0.0:8080) so the kubelet's probes reach /healthz, got '{silo.HttpAddress}'.";
        }
    }
}
