using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace MetaNode.Client;

/// <summary>
/// The rules <c>--network-policy</c> takes (<c>deny-all</c>, <c>ingress:SELECTOR</c>, <c>egress:TARGET</c>) and what each
/// accepts: exactly what a Kubernetes NetworkPolicy can express, so a rule the command line takes is one the runtime applies.
/// </summary>
public static class NetworkPolicyRules
{
    public const string DenyAll = "deny-all";
    public const string IngressPrefix = "ingress:";
    public const string EgressPrefix = "egress:";

    /// <summary>An equality selector <c>KEY=VALUE[,KEY=VALUE]</c> with valid, distinct label keys; a value may be empty.</summary>
    public static bool IsSelector(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var part in text.Split(','))
        {
            if (!VPodSpecBuilder.TrySplitPair(part, out var key, out var value)
                || !VPodSpecBuilder.IsLabelKey(key)
                || (value.Length > 0 && !VPodSpecBuilder.IsLabelValue(value))
                || !keys.Add(key))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// A CIDR (<c>10.0.0.0/8</c>) or an address (<c>192.0.2.10</c>, <c>2001:db8::1</c>), optionally with <c>:PORT</c>
    /// (<c>192.0.2.10:8545</c>, <c>10.0.0.0/8:443</c>, <c>[2001:db8::1]:443</c>). Host names are not targets.
    /// </summary>
    public static bool IsEgressTarget(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        if (IsAddressBlock(text))
        {
            return true;
        }

        var colon = text.LastIndexOf(':');
        if (colon <= 0
            || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || port is < 1 or > 65535)
        {
            return false;
        }

        // Brackets set an IPv6 address apart from its port; an IPv4 address needs none.
        var host = text[..colon];
        if (host.Length > 2 && host[0] == '[' && host[^1] == ']')
        {
            host = host[1..^1];
            return host.Contains(':', StringComparison.Ordinal) && IsAddressBlock(host);
        }

        return IsAddressBlock(host);
    }

    /// <summary>A CIDR or a single address written in full (four dotted numbers for IPv4).</summary>
    private static bool IsAddressBlock(string text)
    {
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

        return slash < 0 || IPNetwork.TryParse(text, out _);
    }
}
