using MetaNode.Clusters;
using MetaNode.Federation.SecureAggregation;

namespace MetaNode.Grains.Clusters;

/// <summary>How a cluster spec is recorded and when a deploy asks for the recorded one again: pure functions.</summary>
public static class ClusterSpecs
{
    /// <summary>A copy that owns its collections, with the secure-aggregation threshold filled in when the spec left it out.</summary>
    public static ClusterSpec Normalize(ClusterSpec spec) => spec with
    {
        Command = spec.Command.ToArray(),
        Env = new Dictionary<string, string>(spec.Env),
        SecurityThreshold = spec.Algorithm == AggregationAlgorithm.SecureAggregation && spec.SecurityThreshold is null
            ? SecAggParameters.DefaultThreshold(spec.Count)
            : spec.SecurityThreshold,
    };

    /// <summary>True when <paramref name="a"/> and <paramref name="b"/> ask for the same cluster, comparing their collections by content.</summary>
    public static bool Same(ClusterSpec a, ClusterSpec b) =>
        (a with { Command = b.Command, Env = b.Env, NetworkPolicy = b.NetworkPolicy }) == b
        && a.Command.SequenceEqual(b.Command)
        && a.Env.Count == b.Env.Count && a.Env.All(e => b.Env.TryGetValue(e.Key, out var v) && v == e.Value)
        && (a.NetworkPolicy, b.NetworkPolicy) switch
        {
            (null, null) => true,
            ({ } x, { } y) => x.Enabled == y.Enabled && x.IngressFrom.SequenceEqual(y.IngressFrom) && x.EgressTo.SequenceEqual(y.EgressTo),
            _ => false,
        };
}
