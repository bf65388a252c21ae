using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace MetaNode.Grains.Runtime;

/// <summary>
/// Free TCP ports on the loopback interface, as the operating system hands them out. A port handed out here is not handed out
/// again by this process for <see cref="Remembered"/>: the system may offer a port again as soon as its probe closes, before the
/// workload it was meant for binds it, and two vPods created side by side must not be given one port.
/// </summary>
public static class LoopbackPorts
{
    /// <summary>How long a port handed out stays off the list.</summary>
    public static readonly TimeSpan Remembered = TimeSpan.FromMinutes(10);

    private const int MaxProbes = 256;
    private static readonly ConcurrentDictionary<int, long> HandedOut = new();

    /// <summary><paramref name="count"/> distinct free loopback ports: all listeners are held until every port is known.</summary>
    public static int[] Free(int count)
    {
        var listeners = new List<TcpListener>(count);
        var ports = new List<int>(count);
        try
        {
            for (var probe = 0; ports.Count < count; probe++)
            {
                if (probe >= MaxProbes)
                {
                    throw new InvalidOperationException($"no free loopback port that this process has not handed out in the last {Remembered.TotalMinutes:0} minutes after {MaxProbes} tries.");
                }

                // Held open while the search goes on, so the system offers another port next.
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listeners.Add(listener);
                listener.Start();
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                if (Claim(port))
                {
                    ports.Add(port);
                }
            }

            return [.. ports];
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

    /// <summary>True when the port was not handed out within <see cref="Remembered"/>; it is now.</summary>
    private static bool Claim(int port)
    {
        var now = Stopwatch.GetTimestamp();
        while (true)
        {
            if (HandedOut.TryAdd(port, now))
            {
                return true;
            }

            if (!HandedOut.TryGetValue(port, out var since) || Stopwatch.GetElapsedTime(since, now) < Remembered)
            {
                return false;
            }

            if (HandedOut.TryUpdate(port, now, since))
            {
                return true;
            }
        }
    }
}
