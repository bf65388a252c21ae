using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Storage;

/// <summary>How storage clusters keep their blocks, section <c>MetaNode:Storage</c>.</summary>
public sealed class StorageOptions
{
    public const string SectionName = "MetaNode:Storage";

    /// <summary>How often an active storage grain checks that every block has its copies, and copies those that lack some.</summary>
    public TimeSpan RepairInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often it collects unreferenced blocks.</summary>
    public TimeSpan GcInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long an unreferenced block is kept after it was stored (an upload pins its root only once every block is in).</summary>
    public TimeSpan GcGracePeriod { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Period of the reminder that re-activates a storage grain after a silo loss, so repair goes on (at least the reminder service's minimum).</summary>
    public TimeSpan KeepAlivePeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long the grain reuses what it learned of its cluster's members and their endpoints.</summary>
    public TimeSpan MembershipCacheTtl { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Block copies written or read at once by one storage grain.</summary>
    public int MaxParallelTransfers { get; set; } = 8;
}

public sealed class StorageOptionsValidator : IValidateOptions<StorageOptions>
{
    private const string Prefix = StorageOptions.SectionName + ":";

    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.RepairInterval < TimeSpan.FromMilliseconds(100) || options.RepairInterval > TimeSpan.FromHours(1))
        {
            failures.Add($"{Prefix}{nameof(StorageOptions.RepairInterval)} '{options.RepairInterval}' is invalid: use 100 ms to 1 hour.");
        }

        if (options.GcInterval < TimeSpan.FromMilliseconds(100) || options.GcInterval > TimeSpan.FromDays(1))
        {
            failures.Add($"{Prefix}{nameof(StorageOptions.GcInterval)} '{options.GcInterval}' is invalid: use 100 ms to 1 day.");
        }

        if (options.GcGracePeriod < TimeSpan.Zero || options.GcGracePeriod > TimeSpan.FromDays(30))
        {
            failures.Add($"{Prefix}{nameof(StorageOptions.GcGracePeriod)} '{options.GcGracePeriod}' is invalid: use 0 to 30 days.");
        }

        if (options.KeepAlivePeriod < TimeSpan.FromMinutes(1) || options.KeepAlivePeriod > TimeSpan.FromDays(1))
        {
            failures.Add($"{Prefix}{nameof(StorageOptions.KeepAlivePeriod)} '{options.KeepAlivePeriod}' is invalid: use 1 minute to 1 day.");
        }

        if (options.MembershipCacheTtl < TimeSpan.Zero || options.MembershipCacheTtl > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{Prefix}{nameof(StorageOptions.MembershipCacheTtl)} '{options.MembershipCacheTtl}' is invalid: use 0 to 1 minute.");
        }

        if (options.MaxParallelTransfers is < 1 or > 256)
        {
            failures.Add($"{Prefix}{nameof(StorageOptions.MaxParallelTransfers)} '{options.MaxParallelTransfers}' is invalid: use 1 to 256.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
