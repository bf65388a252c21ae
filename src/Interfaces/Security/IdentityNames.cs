using System.Text.RegularExpressions;

namespace MetaNode.Security;

/// <summary>Identity names: a DNS-label-like word, so they are safe in certificate subjects, file names and the audit log.</summary>
public static partial class IdentityNames
{
    public static bool IsValid(string? name) => name is not null && Pattern().IsMatch(name);

    [GeneratedRegex("^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")]
    private static partial Regex Pattern();
}
