using System.Text.RegularExpressions;

namespace MetaNode.Storage;

/// <summary>What a db.lock name may be: 1-200 characters of letters, digits, '.', '_', '-' and '/', starting and ending with a letter or digit.</summary>
public static partial class DbLockNames
{
    public const int MaxLength = 200;

    /// <summary>Why <paramref name="name"/> is not a valid name, or null when it is.</summary>
    public static string? Problem(string? name) =>
        name is not null && name.Length <= MaxLength && Pattern().IsMatch(name) && !name.Contains("//", StringComparison.Ordinal)
            ? null
            : $"db.lock name '{name}' is invalid: use 1-{MaxLength} letters, digits, '.', '_', '-' or '/', starting and ending with a letter or digit (e.g. models/digits/v1).";

    [GeneratedRegex("^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
