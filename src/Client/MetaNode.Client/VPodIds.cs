using MetaNode.VPods;

namespace MetaNode.Client;

/// <summary>vPod ids: <c>vpod-</c> followed by lower-case letters, digits and dashes.</summary>
public static class VPodIds
{
    public const string Prefix = VPodNames.VPodIdPrefix;
    public const int MaxLength = VPodNames.MaxNameLength;

    /// <summary>A fresh id: <c>vpod-</c> and 8 lower-case hex characters of a random Guid.</summary>
    public static string NewId() => Prefix + Guid.NewGuid().ToString("N")[..8];

    public static bool IsValid(string? id) => TryValidate(id, out _);

    public static bool TryValidate(string? id, out string error)
    {
        error = VPodNames.VPodIdProblem(id) ?? string.Empty;
        return error.Length == 0;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad id.</summary>
    public static void Validate(string? id, string paramName = "id")
    {
        VPodNames.ThrowIfInvalidVPodId(id, paramName);
    }
}
