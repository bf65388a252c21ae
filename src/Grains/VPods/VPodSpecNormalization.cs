using System.Text.Json;
using MetaNode.VPods;

namespace MetaNode.Grains.VPods;

/// <summary>
/// How a requested spec is made ready to persist, and whether a repeated create asks for the vPod that already exists:
/// pure decisions, made at create.
/// </summary>
internal static class VPodSpecNormalization
{
    /// <summary>
    /// Copies the spec's collections into plain arrays and dictionaries: whatever collection types a caller used
    /// (including compiler-generated ones) never reach persisted state, and status calls serialize compactly.
    /// </summary>
    public static VPodSpec Normalize(VPodSpec spec) => spec with
    {
        Command = spec.Command.ToArray(),
        Ports = spec.Ports.ToArray(),
        Volumes = spec.Volumes.ToArray(),
        Env = new Dictionary<string, string>(spec.Env),
        Labels = new Dictionary<string, string>(spec.Labels),
    };

    /// <summary>
    /// Whether a create asks for exactly the vPod that exists: the whole normalized spec is equal (environment, volumes, labels,
    /// storage, network policy… included; maps compared as sets), except that a requested port 0 — or no port at all — matches the
    /// port the vPod was given.
    /// </summary>
    public static bool SameSpec(VPodSpec existing, VPodSpec requested)
    {
        IReadOnlyList<int> ports = requested.Ports.Count == 0
            ? existing.Ports
            : requested.Ports.Count == existing.Ports.Count ? [.. requested.Ports.Zip(existing.Ports, (asked, given) => asked == 0 ? given : asked)] : requested.Ports;
        return Canonical(existing) == Canonical(Normalize(requested) with { Ports = ports });
    }

    private static string Canonical(VPodSpec spec) => JsonSerializer.Serialize(spec with
    {
        Env = new SortedDictionary<string, string>(spec.Env.ToDictionary(), StringComparer.Ordinal),
        Labels = new SortedDictionary<string, string>(spec.Labels.ToDictionary(), StringComparer.Ordinal),
    });
}
