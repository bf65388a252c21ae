using System.Net;
using System.Net.Sockets;

namespace MetaNode.Tests.Infrastructure;

/// <summary>Ports the product's <c>LoopbackPorts</c> cannot give: it only probes 127.0.0.1.</summary>
internal static class TestPorts
{
    /// <summary>A port free on every address: the loopback kubelet's pods each listen on it at a loopback address of their own (127.x.y.z).</summary>
    public static int FreeOnAllAddresses()
    {
        using var listener = new TcpListener(IPAddress.Any, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
