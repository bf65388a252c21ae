using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace MetaNode.Client;

/// <summary>A gateway written as <c>host:port</c> or <c>[v6-address]:port</c>.</summary>
public sealed record GatewayAddress(string Host, int Port)
{
    public override string ToString() =>
        Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    public static GatewayAddress Parse(string text) =>
        TryParse(text, out var address, out var error) ? address : throw new FormatException(error);

    public static bool TryParse(string? text, out GatewayAddress address, out string error)
    {
        address = new GatewayAddress(string.Empty, 0);
        var value = text?.Trim() ?? string.Empty;
        string host;
        string portText;

        if (value.StartsWith('['))
        {
            var close = value.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= value.Length || value[close + 1] != ':')
            {
                error = $"Invalid gateway '{text}': write an IPv6 gateway as [address]:port (e.g. [::1]:30000).";
                return false;
            }

            host = value[1..close];
            portText = value[(close + 2)..];
        }
        else
        {
            var colon = value.LastIndexOf(':');
            if (colon < 0)
            {
                error = $"Invalid gateway '{text}': missing port, use host:port (e.g. 127.0.0.1:30000).";
                return false;
            }

            host = value[..colon];
            portText = value[(colon + 1)..];
            if (host.Contains(':', StringComparison.Ordinal))
            {
                error = $"Invalid gateway '{text}': write an IPv6 gateway as [address]:port (e.g. [::1]:30000).";
                return false;
            }
        }

        if (host.Length == 0)
        {
            error = $"Invalid gateway '{text}': missing host, use host:port (e.g. 127.0.0.1:30000).";
            return false;
        }

        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            error = $"Invalid gateway '{text}': the port must be a number from 1 to 65535.";
            return false;
        }

        if (Uri.CheckHostName(host) == UriHostNameType.Unknown)
        {
            error = $"Invalid gateway '{text}': '{host}' is not a host name or IP address.";
            return false;
        }

        address = new GatewayAddress(host, port);
        error = string.Empty;
        return true;
    }

    /// <summary>Resolves the host (IPv4 preferred) to an endpoint the Orleans client can dial.</summary>
    public async Task<IPEndPoint> ResolveAsync(CancellationToken cancellationToken = default)
    {
        if (IPAddress.TryParse(Host, out var ip))
        {
            return new IPEndPoint(ip, Port);
        }

        IPAddress[] addresses;
        try
        {
            addresses = await Dns.GetHostAddressesAsync(Host, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            throw new MetaNodeConnectionException($"Cannot resolve gateway {this}: {ex.Message}", ex);
        }

        var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
        return chosen is null
            ? throw new MetaNodeConnectionException($"Cannot resolve gateway {this}: the host has no addresses.")
            : new IPEndPoint(chosen, Port);
    }
}
