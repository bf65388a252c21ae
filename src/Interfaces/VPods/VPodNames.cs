namespace MetaNode.VPods;

/// <summary>
/// The one rule set for what names, ids and plain values in a vPod's spec may be. The command line, the client, the grains and the
/// runtimes all ask these functions (labels: <see cref="VPodLabels"/>; durations: <see cref="Durations"/>; sizes and CPU:
/// <see cref="ResourceQuantity"/>), so a value one side accepts the other accepts too. Pure functions, no regular expressions
/// (a regex's <c>$</c> would also match before a trailing newline).
/// </summary>
public static class VPodNames
{
    /// <summary>The longest vPod name, pull-secret name, storage-class name, DNS label and vPod id.</summary>
    public const int MaxNameLength = 63;

    /// <summary>The longest cluster name: members are named <c>{cluster}-{ordinal}</c> and their ids <c>vpod-{cluster}-{ordinal}</c>.</summary>
    public const int MaxClusterNameLength = 40;

    public const string VPodIdPrefix = "vpod-";

    /// <summary>
    /// A vPod name (and an image pull secret's or storage class's name): 1 to 63 lower-case letters, digits, '-' or '.', starting
    /// and ending with a letter or digit.
    /// </summary>
    public static bool IsName(string? value) => IsLowerDnsText(value, MaxNameLength, allowDots: true);

    /// <summary>A DNS-1123 label: 1 to <paramref name="maxLength"/> (at most 63) lower-case letters, digits or '-', starting and ending with a letter or digit.</summary>
    public static bool IsDnsLabel(string? value, int maxLength = MaxNameLength) => IsLowerDnsText(value, Math.Min(maxLength, MaxNameLength), allowDots: false);

    /// <summary>A DNS-1123 subdomain: at most 253 characters of dot-separated DNS labels.</summary>
    public static bool IsDnsSubdomain(string? value) =>
        value is { Length: > 0 and <= 253 } && value.Split('.').All(part => IsDnsLabel(part));

    /// <summary>A cluster name: 1 to 40 lower-case letters, digits or '-', starting and ending with a letter or digit.</summary>
    public static bool IsClusterName(string? value) => IsLowerDnsText(value, MaxClusterNameLength, allowDots: false);

    /// <summary>An environment variable name: letters, digits and '_', not starting with a digit.</summary>
    public static bool IsEnvName(string? value) =>
        !string.IsNullOrEmpty(value) && !char.IsAsciiDigit(value[0]) && value.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    /// <summary>An image reference or a program path: not empty, no white space.</summary>
    public static bool IsImage(string? value) => !string.IsNullOrEmpty(value) && !value.Any(char.IsWhiteSpace);

    /// <summary>A path inside a workload: absolute, no white space.</summary>
    public static bool IsAbsolutePath(string? value) => value is { Length: > 0 } && value[0] == '/' && !value.Any(char.IsWhiteSpace);

    /// <summary>A vPod id: <c>vpod-</c> then lower-case letters, digits and '-', at most 63 characters in all.</summary>
    public static bool IsVPodId(string? id) => VPodIdProblem(id) is null;

    /// <summary>Why <paramref name="id"/> is not a vPod id; null when it is.</summary>
    public static string? VPodIdProblem(string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            return "A vPod id is required (e.g. vpod-1a2b3c4d).";
        }

        if (!id.StartsWith(VPodIdPrefix, StringComparison.Ordinal) || id.Length == VPodIdPrefix.Length)
        {
            return $"Invalid vPod id '{id}': it must start with '{VPodIdPrefix}' (e.g. vpod-1a2b3c4d).";
        }

        if (id.Length > MaxNameLength)
        {
            return $"Invalid vPod id '{id}': it must be at most {MaxNameLength} characters.";
        }

        return id.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')
            ? null
            : $"Invalid vPod id '{id}': only lower-case letters, digits and '-' are allowed.";
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad id.</summary>
    public static void ThrowIfInvalidVPodId(string? id, string paramName = "id")
    {
        if (VPodIdProblem(id) is { } problem)
        {
            throw new ArgumentException(problem, paramName);
        }
    }

    /// <summary>Splits <c>KEY=VALUE</c> at the first '='; the key is trimmed and not empty, the value is kept as given (it may be empty or hold '=').</summary>
    public static bool TrySplitPair(string? text, out string key, out string value)
    {
        key = string.Empty;
        value = string.Empty;
        var separator = text?.IndexOf('=', StringComparison.Ordinal) ?? -1;
        if (text is null || separator <= 0)
        {
            return false;
        }

        key = text[..separator].Trim();
        value = text[(separator + 1)..];
        return key.Length > 0;
    }

    private static bool IsLowerDnsText(string? value, int maxLength, bool allowDots) =>
        value is { Length: > 0 } && value.Length <= maxLength
        && IsLowerAlphanumeric(value[0]) && IsLowerAlphanumeric(value[^1])
        && value.All(c => IsLowerAlphanumeric(c) || c == '-' || (allowDots && c == '.'));

    private static bool IsLowerAlphanumeric(char c) => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c);
}
