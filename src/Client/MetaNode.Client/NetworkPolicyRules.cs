using MetaNode.VPods;

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
            if (!VPodNames.TrySplitPair(part, out var key, out var value)
                || !VPodLabels.IsKey(key)
                || !VPodLabels.IsValue(value)
                || !keys.Add(key))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>An egress target as <see cref="EgressTarget"/> parses it (the runtime uses the same parser).</summary>
    public static bool IsEgressTarget(string? text) => EgressTarget.TryParse(text, out _, out _);
}
