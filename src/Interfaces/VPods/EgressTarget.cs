using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace MetaNode.VPods;

/// <summary>
/// An egress allow-list entry of a vPod's network policy: a CIDR (<c>10.0.0.0/8</c>) or an address (<c>192.0.2.10</c>,
/// <c>2001:db8::1</c>, taken as a /32 or /128 block), optionally with <c>:PORT</c> (<c>192.0.2.10:8545</c>,
/// <c>10.0.0.0/8:443</c>, <c>[2001:db8::1]:443</c>). Host names are not targets, and IPv4 is written as four dotted numbers.
/// One parser for the command line and the runtime, so an entry one takes is one the other applies.
/// </summary>
public static class EgressTarget
{
    public static bool TryParse(string? text, out string cidr, out int? port)
    {
        cidr = string.Empty;
        port = null;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        if (TryParseBlock(text, out cidr))
        {
            return true;
        }

        var colon = text.LastIndexOf(':');
        if (colon <= 0
            || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            || number is < 1 or > 65535)
        {
            return false;
        }

        // Brackets set an IPv6 address apart from its port; an IPv4 address needs none.
        var host = text[..colon];
        if (host.Length > 2 && host[0] == '[' && host[^1] == ']')
        {
            host = host[1..^1];
            if (!host.Contains(':', StringComparison.Ordinal))
            {
                return false;
            }
        }

        if (!TryParseBlock(host, out cidr))
        {
            return false;
        }

        port = number;
        return true;
    }

    private static bool TryParseBlock(string text, out string cidr)
    {
        cidr = string.Empty;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var address = slash < 0 ? text : text[..slash];
        if (address.Contains('[', StringComparison.Ordinal) || !IPAddress.TryParse(address, out var parsed))
        {
            return false;
        }

        // IPAddress.TryParse also takes "10.1" (as 10.0.0.1) and "1.2.3.4:80"-like forms: insist on the plain notation.
        var isV6 = parsed.AddressFamily == AddressFamily.InterNetworkV6;
        if (isV6 ? !address.Contains(':', StringComparison.Ordinal) : address.Count(c => c == '.') != 3 || address.Contains(':', StringComparison.Ordinal))
        {
            return false;
        }

        if (slash < 0)
        {
            cidr = $"{parsed}/{(isV6 ? 128 : 32)}";
            return true;
        }

        if (!IPNetwork.TryParse(text, out var network))
        {
            return false;
        }

        cidr = network.ToString();
        return true;
    }
}
