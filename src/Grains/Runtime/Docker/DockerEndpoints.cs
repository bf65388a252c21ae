using System.Globalization;
using System.Net;
using Docker.DotNet.Models;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Docker;

/// <summary>The handle of a container and where the silo reaches its workload: the recorded port on the host network, else the published port.</summary>
internal static class DockerEndpoints
{
    /// <summary>The handle recording the container, its engine (<paramref name="engineEndpoint"/>), its start time and its workload endpoint.</summary>
    public static RuntimeHandle HandleOf(ContainerInspectResponse container, string engineEndpoint, DockerRuntimeOptions options)
    {
        var startedAt = Rfc3339.TryParse(container.State?.StartedAt ?? string.Empty, out var at) && at.Year > 1 ? at : default;
        return new RuntimeHandle(DeploymentMethod.Docker, container.ID, engineEndpoint, startedAt, Endpoint: EndpointOf(container, options));
    }

    /// <summary>Where the silo reaches the workload: the recorded port on the host address (host network), else the published port.</summary>
    public static string? EndpointOf(ContainerInspectResponse container, DockerRuntimeOptions options)
    {
        if (container.Config?.Labels is not { } labels
            || !labels.TryGetValue(DockerContainerSpec.Label(options, DockerContainerSpec.PortLabel), out var portText)
            || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            return null;
        }

        if (IsHostNetwork(container))
        {
            return Url(options.HostAddress, port);
        }

        if (container.NetworkSettings?.Ports is { } ports
            && ports.TryGetValue(DockerContainerSpec.PortKey(port), out var bindings)
            && bindings?.FirstOrDefault(b => !string.IsNullOrEmpty(b.HostPort)) is { } binding
            && int.TryParse(binding.HostPort, NumberStyles.None, CultureInfo.InvariantCulture, out var hostPort))
        {
            var address = IPAddress.TryParse(binding.HostIP, out var ip) && !ip.Equals(IPAddress.Any) && !ip.Equals(IPAddress.IPv6Any)
                ? binding.HostIP
                : options.HostAddress;
            return Url(address, hostPort);
        }

        return null;
    }

    public static bool IsHostNetwork(ContainerInspectResponse container) =>
        string.Equals(container.HostConfig?.NetworkMode, "host", StringComparison.Ordinal);

    private static string Url(string host, int port) =>
        host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[')
            ? $"http://[{host}]:{port.ToString(CultureInfo.InvariantCulture)}"
            : $"http://{host}:{port.ToString(CultureInfo.InvariantCulture)}";
}
