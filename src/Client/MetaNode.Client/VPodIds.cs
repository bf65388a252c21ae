namespace MetaNode.Client;

/// <summary>vPod ids: <c>vpod-</c> followed by lower-case letters, digits and dashes.</summary>
public static class VPodIds
{
    public const string Prefix = "vpod-";
    public const int MaxLength = 63;

    /// <summary>A fresh id: <c>vpod-</c> and 8 lower-case hex characters of a random Guid.</summary>
    public static string NewId() => Prefix + Guid.NewGuid().ToString("N")[..8];

    public static bool IsValid(string? id) => TryValidate(id, out _);

    public static bool TryValidate(string? id, out string error)
    {
        if (string.IsNullOrEmpty(id))
        {
            error = "A vPod id is required (e.g. vpod-1a2b3c4d).";
            return false;
        }

        if (!id.StartsWith(Prefix, StringComparison.Ordinal) || id.Length == Prefix.Length)
        {
            error = $"Invalid vPod id '{id}': it must start with '{Prefix}' (e.g. vpod-1a2b3c4d).";
            return false;
        }

        if (id.Length > MaxLength)
        {
            error = $"Invalid vPod id '{id}': it must be at most {MaxLength} characters.";
            return false;
        }

        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
            {
                error = $"Invalid vPod id '{id}': only lower-case letters, digits and '-' are allowed.";
                return false;
            }
        }

        error = string.Empty;
        return true;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad id.</summary>
    public static void Validate(string? id, string paramName = "id")
    {
        if (!TryValidate(id, out var error))
        {
            throw new ArgumentException(error, paramName);
        }
    }
}
