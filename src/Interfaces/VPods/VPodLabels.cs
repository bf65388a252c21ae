namespace MetaNode.VPods;

/// <summary>
/// What a label a vPod carries may be: Kubernetes label syntax, and never a key of a reserved prefix. The reserved prefixes are the
/// ones the installation selects its own pods by (silos and PostgreSQL: <c>app.kubernetes.io/part-of</c>, <c>app.kubernetes.io/component</c>),
/// the ones the runtimes set on vPods (<c>metanode.io/vpod-id</c>, ...) and the ones Kubernetes keeps for itself. Pure functions.
/// </summary>
public static class VPodLabels
{
    public const int MaxNameLength = 63;
    public const int MaxPrefixLength = 253;

    /// <summary>Label key prefixes a vPod's own labels may not use: a key whose prefix is one of these, or a subdomain of one, is refused.</summary>
    public static IReadOnlyList<string> ReservedPrefixes { get; } = ["app.kubernetes.io", "metanode.io", "kubernetes.io", "k8s.io"];

    /// <summary>The vPod labels the runtimes set (under <c>metanode.io/</c>); a network policy selector may name them to admit other vPods.</summary>
    public static IReadOnlyList<string> VPodIdentityKeys { get; } = ["metanode.io/vpod-id", "metanode.io/vpod-name", "metanode.io/vpod-type", "metanode.io/cluster"];

    /// <summary>A qualified name: an optional DNS-subdomain prefix (at most 253) and '/', then a name of at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit.</summary>
    public static bool IsKey(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return false;
        }

        var slash = key.IndexOf('/', StringComparison.Ordinal);
        var name = slash < 0 ? key : key[(slash + 1)..];
        return (slash < 0 || IsDnsSubdomain(key[..slash])) && name.Length > 0 && IsValue(name);
    }

    /// <summary>A label value: empty, or at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit.</summary>
    public static bool IsValue(string? value) =>
        value is { Length: <= MaxNameLength }
        && (value.Length == 0
            || (char.IsAsciiLetterOrDigit(value[0]) && char.IsAsciiLetterOrDigit(value[^1])
                && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')));

    public static bool IsDnsSubdomain(string? value) => VPodNames.IsDnsSubdomain(value);

    /// <summary>Whether <paramref name="key"/>'s prefix is reserved (see <see cref="ReservedPrefixes"/>); compared case-insensitively.</summary>
    public static bool IsReserved(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            return false;
        }

        var prefix = key[..slash].ToLowerInvariant();
        return ReservedPrefixes.Any(r => prefix == r || prefix.EndsWith("." + r, StringComparison.Ordinal));
    }

    /// <summary>Why a vPod may not carry the label <paramref name="key"/>=<paramref name="value"/>; null when it may.</summary>
    public static string? Problem(string key, string? value)
    {
        if (!IsKey(key))
        {
            return $"label key '{key}' is invalid: use an optional DNS-subdomain prefix (at most {MaxPrefixLength}) and '/', then at most {MaxNameLength} letters, digits, '-', '_' or '.', starting and ending with a letter or digit.";
        }

        if (IsReserved(key))
        {
            return $"label key '{key}' is reserved: vPod labels may not use the prefixes {string.Join(", ", ReservedPrefixes.Select(p => p + "/"))} (or their subdomains).";
        }

        return IsValue(value)
            ? null
            : $"label '{key}' value '{value}' is invalid: use at most {MaxNameLength} letters, digits, '-', '_' or '.', starting and ending with a letter or digit (or nothing).";
    }

    /// <summary>Why a network policy selector may not name the key <paramref name="key"/>; null when it may (any key a vPod may carry, and the vPod identity labels).</summary>
    public static string? SelectorKeyProblem(string key) =>
        IsKey(key) && IsReserved(key) && !VPodIdentityKeys.Contains(key, StringComparer.Ordinal)
            ? $"selects on the reserved label key '{key}': a vPod's network policy may select vPods only (by their own labels or {string.Join(", ", VPodIdentityKeys)})."
            : null;
}
