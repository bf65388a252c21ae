using Microsoft.Extensions.Options;

namespace MetaNode.Silo.Persistence;

/// <summary>
/// Validates <see cref="SqliteStorageOptions"/>; every failure names the configuration key and the value it had.
/// </summary>
public sealed class SqliteStorageOptionsValidator : IValidateOptions<SqliteStorageOptions>
{
    /// <summary>The longest <see cref="SqliteStorageOptions.BusyTimeout"/> accepted.</summary>
    public static readonly TimeSpan MaximumBusyTimeout = TimeSpan.FromHours(1);

    public ValidateOptionsResult Validate(string? name, SqliteStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var scope = string.IsNullOrEmpty(name) ? string.Empty : $" (store '{name}')";
        var failures = new List<string>();

        var pathKey = $"{SqliteStorageOptions.SectionName}:{nameof(SqliteStorageOptions.DatabasePath)}";
        var path = options.DatabasePath;
        if (string.IsNullOrWhiteSpace(path))
        {
            failures.Add($"{pathKey}{scope} must name a database file, but was '{path}'.");
        }
        else if (path.Trim().Equals(":memory:", StringComparison.OrdinalIgnoreCase)
                 || path.Contains("mode=memory", StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"{pathKey}{scope} is '{path}', an in-memory database that would lose all state; give a file path.");
        }
        else if (path.IndexOfAny(Path.GetInvalidPathChars()) >= 0 || path.Contains('\0', StringComparison.Ordinal))
        {
            failures.Add($"{pathKey}{scope} is '{path}', which contains characters not allowed in a path.");
        }
        else if (path.EndsWith(Path.DirectorySeparatorChar) || path.EndsWith(Path.AltDirectorySeparatorChar))
        {
            failures.Add($"{pathKey}{scope} is '{path}', a directory; give the path of the database file inside it.");
        }
        else if (Directory.Exists(path))
        {
            failures.Add($"{pathKey}{scope} is '{path}', an existing directory; give the path of the database file inside it.");
        }

        var timeoutKey = $"{SqliteStorageOptions.SectionName}:{nameof(SqliteStorageOptions.BusyTimeout)}";
        if (options.BusyTimeout <= TimeSpan.Zero || options.BusyTimeout > MaximumBusyTimeout)
        {
            failures.Add($"{timeoutKey}{scope} must be greater than 00:00:00 and at most {MaximumBusyTimeout}, but was '{options.BusyTimeout}'.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
