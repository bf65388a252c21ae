using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Kubernetes;

/// <summary>
/// Cluster DNS and the service proxy of the cluster behind a <see cref="FakeKubernetesApiServer"/>, as a connect callback for a
/// <see cref="SocketsHttpHandler"/>: <c>{service}.{namespace}.svc[.cluster.local]:{port}</c> is the Service of that name (unknown:
/// the name does not resolve), its port <c>port</c> (none: refused), and a ready pod its selector matches (none: refused, as
/// kube-proxy rejects a Service without endpoints), reached at the pod's IP and the container port the Service's
/// <c>targetPort</c> names. Everything is read from the API server at connect time, so a pod that is not ready, or gone, is not
/// reached. Only loopback pod IPs are dialled; any other host does not resolve.
/// </summary>
internal sealed class LoopbackServiceNetwork(FakeKubernetesApiServer server)
{
    private int _next;

    /// <summary>For <see cref="SocketsHttpHandler.ConnectCallback"/>.</summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var target = Resolve(context.DnsEndPoint.Host, context.DnsEndPoint.Port);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(target, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The pod endpoint that <paramref name="host"/>:<paramref name="port"/> reaches now; throws a <see cref="SocketException"/> as a dial would fail.</summary>
    public IPEndPoint Resolve(string host, int port)
    {
        ArgumentNullException.ThrowIfNull(host);
        var labels = host.TrimEnd('.').Split('.');
        if (labels is not ([_, _, "svc"] or [_, _, "svc", "cluster", "local"]))
        {
            throw new SocketException((int)SocketError.HostNotFound, $"{host} is not a Service name of this cluster ({{service}}.{{namespace}}.svc)");
        }

        var (name, @namespace) = (labels[0], labels[1]);
        var service = server.Get($"api/v1/namespaces/{@namespace}/services/{name}")
            ?? throw new SocketException((int)SocketError.HostNotFound, $"{host}: no Service {@namespace}/{name}");
        var servicePort = (service["spec"]?["ports"]?.AsArray() ?? []).FirstOrDefault(p => p?["port"]?.GetValue<int>() == port)
            ?? throw new SocketException((int)SocketError.ConnectionRefused, $"Service {@namespace}/{name} has no port {port}");
        var selector = service["spec"]?["selector"]?.AsObject().ToDictionary(s => s.Key, s => s.Value?.GetValue<string>(), StringComparer.Ordinal) ?? [];

        var endpoints = server.List($"api/v1/namespaces/{@namespace}/pods")
            .Where(pod => pod["metadata"]?["deletionTimestamp"] is null && selector.All(s => pod["metadata"]?["labels"]?[s.Key]?.GetValue<string>() == s.Value) && IsReady(pod))
            .OrderBy(pod => pod["metadata"]!["name"]!.GetValue<string>(), StringComparer.Ordinal)
            .Select(pod => Endpoint(pod, servicePort["targetPort"] ?? servicePort["port"]))
            .OfType<IPEndPoint>()
            .ToList();
        if (endpoints.Count == 0)
        {
            throw new SocketException((int)SocketError.ConnectionRefused, $"Service {@namespace}/{name} has no ready endpoints");
        }

        return endpoints[(int)((uint)Interlocked.Increment(ref _next) % (uint)endpoints.Count)];
    }

    private static bool IsReady(JsonObject pod) =>
        (pod["status"]?["conditions"]?.AsArray() ?? []).Any(c => c?["type"]?.GetValue<string>() == "Ready" && c["status"]?.GetValue<string>() == "True");

    /// <summary>The pod's IP and the container port <paramref name="targetPort"/> names (a number, or a container port's name); null when it has neither.</summary>
    private static IPEndPoint? Endpoint(JsonObject pod, JsonNode? targetPort)
    {
        if (pod["status"]?["podIP"]?.GetValue<string>() is not { } ip || !IPAddress.TryParse(ip, out var address) || !IPAddress.IsLoopback(address))
        {
            return null;
        }

        if (targetPort?.GetValueKind() == System.Text.Json.JsonValueKind.Number)
        {
            return new IPEndPoint(address, targetPort.GetValue<int>());
        }

        var portName = targetPort?.GetValue<string>();
        var containerPort = (pod["spec"]?["containers"]?.AsArray() ?? [])
            .SelectMany(c => c?["ports"]?.AsArray() ?? [])
            .FirstOrDefault(p => p?["name"]?.GetValue<string>() == portName)?["containerPort"]?.GetValue<int>();
        return containerPort is { } number ? new IPEndPoint(address, number) : null;
    }
}
