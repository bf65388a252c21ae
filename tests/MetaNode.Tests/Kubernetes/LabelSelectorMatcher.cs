using k8s.Models;

namespace MetaNode.Tests.Kubernetes;

/// <summary>Label selectors and NetworkPolicy ingress rules evaluated as Kubernetes evaluates them, for pods given by their labels. Pure.</summary>
internal static class LabelSelectorMatcher
{
    /// <summary>Equality selectors (a Service's): every pair present. An empty one selects nothing (a Service without selector).</summary>
    public static bool Matches(IDictionary<string, string>? selector, IDictionary<string, string> labels) =>
        selector is { Count: > 0 } && selector.All(s => labels.TryGetValue(s.Key, out var value) && value == s.Value);

    /// <summary>A <see cref="V1LabelSelector"/>: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist); an empty one selects everything.</summary>
    public static bool Matches(V1LabelSelector selector, IDictionary<string, string> labels)
    {
        ArgumentNullException.ThrowIfNull(selector);
        var pairs = (selector.MatchLabels ?? new Dictionary<string, string>()).All(s => labels.TryGetValue(s.Key, out var value) && value == s.Value);
        return pairs && (selector.MatchExpressions ?? []).All(e => e.OperatorProperty switch
        {
            "In" => labels.TryGetValue(e.Key, out var v) && e.Values.Contains(v),
            "NotIn" => !labels.TryGetValue(e.Key, out var v) || !e.Values.Contains(v),
            "Exists" => labels.ContainsKey(e.Key),
            "DoesNotExist" => !labels.ContainsKey(e.Key),
            _ => throw new ArgumentException($"unknown selector operator '{e.OperatorProperty}'"),
        });
    }

    /// <summary>A pod as a NetworkPolicy sees it: its namespace (with that namespace's labels) and its labels.</summary>
    public sealed record Pod(string Namespace, IDictionary<string, string> NamespaceLabels, IDictionary<string, string> Labels);

    /// <summary>
    /// Whether <paramref name="policy"/> (in namespace <paramref name="policyNamespace"/>) admits <paramref name="source"/> to the port
    /// named <paramref name="portName"/> (number <paramref name="portNumber"/>) of the pods it selects. A rule without ports covers every
    /// port; a rule without peers admits everyone; a peer without a namespace selector is a pod of the policy's namespace.
    /// </summary>
    public static bool Admits(V1NetworkPolicy policy, string policyNamespace, string portName, int portNumber, Pod source)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(source);
        var number = portNumber.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return (policy.Spec.Ingress ?? [])
            .Where(rule => rule.Ports is not { Count: > 0 } || rule.Ports.Any(p => p.Port?.Value == portName || p.Port?.Value == number))
            .Any(rule => rule.FromProperty is not { Count: > 0 } || rule.FromProperty.Any(peer => PeerAdmits(peer, policyNamespace, source)));
    }

    private static bool PeerAdmits(V1NetworkPolicyPeer peer, string policyNamespace, Pod source)
    {
        if (peer.IpBlock is not null)
        {
            // Pod addresses may fall in any block: treat a block as admitting every pod (the strict reading for these tests).
            return true;
        }

        var inNamespace = peer.NamespaceSelector is null ? source.Namespace == policyNamespace : Matches(peer.NamespaceSelector, source.NamespaceLabels);
        return inNamespace && (peer.PodSelector is null || Matches(peer.PodSelector, source.Labels));
    }
}
