using System.Security.Cryptography;
using System.Text;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Kubernetes;

/// <summary>Object names, label keys and values, and label selectors as the Kubernetes API accepts them. Pure functions.</summary>
public static class KubernetesNames
{
    /// <summary>Longest object name used: a StatefulSet's pods append "-N" and a 10-character revision hash label must still fit in 63.</summary>
    public const int MaxObjectNameLength = 52;

    /// <summary>The value of <c>app.kubernetes.io/managed-by</c> on every object the runtime creates.</summary>
    public const string ManagedBy = "metanode";

    public const string ManagedByLabel = "app.kubernetes.io/managed-by";

    /// <summary>
    /// The name of every object of a vPod (workload, Service, NetworkPolicy, PodDisruptionBudget): deterministic, so a retried
    /// create finds what an earlier attempt made. A DNS-1035 label of at most <see cref="MaxObjectNameLength"/> characters; ids that
    /// had to be changed or shortened get a hash suffix so two ids never share a name.
    /// </summary>
    public static string ObjectName(string vpodId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(vpodId);
        var builder = new StringBuilder(vpodId.Length);
        foreach (var c in vpodId.ToLowerInvariant())
        {
            builder.Append(c is (>= 'a' and <= 'z') or (>= '0' and <= '9') ? c : '-');
        }

        var name = builder.ToString().Trim('-');
        if (name.Length == 0 || !char.IsAsciiLetterLower(name[0]))
        {
            name = "vpod-" + name;
        }

        if (name == vpodId && name.Length <= MaxObjectNameLength && !name.Contains("--", StringComparison.Ordinal))
        {
            return name;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(vpodId)))[..8];
        var keep = Math.Min(name.Length, MaxObjectNameLength - hash.Length - 1);
        return name[..keep].TrimEnd('-') + "-" + hash;
    }

    public static bool IsDnsLabel(string? value) => VPodNames.IsDnsLabel(value);

    public static bool IsDnsSubdomain(string? value) => VPodLabels.IsDnsSubdomain(value);

    /// <summary>A label key: an optional DNS-subdomain prefix and '/', then a name of at most 63 characters.</summary>
    public static bool IsLabelKey(string? key) => VPodLabels.IsKey(key);

    /// <summary>A label value: empty, or at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit.</summary>
    public static bool IsLabelValue(string? value) => VPodLabels.IsValue(value);

    /// <summary>The vPods' namespace when none is configured: the silos' namespace with <c>-vpods</c> appended (shortened to fit a DNS label).</summary>
    public static string VPodNamespaceFor(string siloNamespace)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(siloNamespace);
        const string Suffix = "-vpods";
        return siloNamespace[..Math.Min(siloNamespace.Length, 63 - Suffix.Length)].TrimEnd('-') + Suffix;
    }

    /// <summary>Parses an equality selector <c>key=value[,key=value]</c>; the error names the bad part.</summary>
    public static bool TryParseSelector(string? text, out IReadOnlyDictionary<string, string> labels, out string error)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        labels = result;
        error = string.Empty;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = $"must be a label selector key=value[,key=value]; got '{text}'.";
            return false;
        }

        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            var key = equals < 0 ? part : part[..equals].Trim();
            var value = equals < 0 ? string.Empty : part[(equals + 1)..].Trim().TrimStart('=');
            if (equals <= 0 || !IsLabelKey(key) || !IsLabelValue(value) || !result.TryAdd(key, value))
            {
                error = $"must be a label selector key=value[,key=value] with valid, distinct label keys and values; '{part}' in '{text}' is not.";
                labels = new SortedDictionary<string, string>(StringComparer.Ordinal);
                return false;
            }
        }

        return true;
    }

    /// <summary>Formats labels as the <c>labelSelector</c> query parameter (sorted, so requests are reproducible).</summary>
    public static string FormatSelector(IReadOnlyDictionary<string, string> labels) =>
        string.Join(',', labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));
}
