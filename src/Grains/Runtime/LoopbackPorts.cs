using System.Net;
using System.Net.Sockets;

namespace MetaNode.Grains.Runtime;

/// <summary>Free TCP ports on the loopback interface, as the operating system hands them out.</summary>
public static class LoopbackPorts
{
    /// <summary><paramref name="count"/> distinct free loopback ports: all listeners are held until every port is known.</summary>
    public static int[] Free(int count)
    {
        var listeners = new List<TcpListener>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listeners.Add(listener);
                listener.Start();
            }

            return listeners.Select(listener => ((IPEndPoint)listener.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            foreach (var listener in listeners)
            {
                listener.Stop();
            }
        }
    }

    public static int Free() => Free(1)[0];
}
