using System.Globalization;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>Checks <see cref="ProcessRuntimeOptions"/> and reports every bad setting with its configuration key and value.</summary>
public sealed class ProcessRuntimeOptionsValidator : IValidateOptions<ProcessRuntimeOptions>
{
    public const long MinLogMaxBytes = 1024;
    public const int MaxLogMaxFiles = 100;

    /// <summary>Below this, uids belong to the machine's own users and services.</summary>
    public const long MinIsolatedUid = 1000;

    /// <summary>The largest uid the kernel hands out (2^32 − 2; −1 means "unchanged").</summary>
    public const long MaxIsolatedUid = 4_294_967_294;

    public const long MinPidsLimit = 8;
    public const long MaxPidsLimit = 4_194_304;

    private const string Prefix = ProcessRuntimeOptions.SectionName + ":";

    public ValidateOptionsResult Validate(string? name, ProcessRuntimeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();

        if (string.IsNullOrWhiteSpace(options.DataDirectory) || options.DataDirectory.Contains('\0', StringComparison.Ordinal))
        {
            failures.Add($"{Prefix}{nameof(options.DataDirectory)} must be a directory path; got '{options.DataDirectory}'.");
        }

        if (string.IsNullOrWhiteSpace(options.ReferenceWorkloadPath) || options.ReferenceWorkloadPath.Contains('\0', StringComparison.Ordinal))
        {
            failures.Add($"{Prefix}{nameof(options.ReferenceWorkloadPath)} must be the path of MetaNode.Workload.dll; got '{options.ReferenceWorkloadPath}'.");
        }

        if (options.LogMaxBytes < MinLogMaxBytes)
        {
            failures.Add($"{Prefix}{nameof(options.LogMaxBytes)} must be at least {MinLogMaxBytes} bytes; got '{options.LogMaxBytes.ToString(CultureInfo.InvariantCulture)}'.");
        }

        if (options.LogMaxFiles is < 0 or > MaxLogMaxFiles)
        {
            failures.Add($"{Prefix}{nameof(options.LogMaxFiles)} must be between 0 and {MaxLogMaxFiles}; got '{options.LogMaxFiles.ToString(CultureInfo.InvariantCulture)}'.");
        }

        if (string.IsNullOrWhiteSpace(options.HostAddress) || Uri.CheckHostName(options.HostAddress) == UriHostNameType.Unknown)
        {
            failures.Add($"{Prefix}{nameof(options.HostAddress)} must be an IP address or host name; got '{options.HostAddress}'.");
        }

        if (options.ShutdownTimeout <= TimeSpan.Zero || options.ShutdownTimeout > TimeSpan.FromMinutes(5))
        {
            failures.Add($"{Prefix}{nameof(options.ShutdownTimeout)} must be more than 0 and at most 00:05:00; got '{options.ShutdownTimeout.ToString("c", CultureInfo.InvariantCulture)}'.");
        }

        if (options.LogPollInterval < TimeSpan.FromMilliseconds(10) || options.LogPollInterval > TimeSpan.FromSeconds(10))
        {
            failures.Add($"{Prefix}{nameof(options.LogPollInterval)} must be between 00:00:00.010 and 00:00:10; got '{options.LogPollInterval.ToString("c", CultureInfo.InvariantCulture)}'.");
        }

        if (options.InheritedEnvironment is { } inherited)
        {
            for (var i = 0; i < inherited.Count; i++)
            {
                if (!ProcessCommand.IsValidEnvironmentName(inherited[i]))
                {
                    failures.Add($"{Prefix}{nameof(options.InheritedEnvironment)}:{i.ToString(CultureInfo.InvariantCulture)} must be an environment variable name; got '{inherited[i]}'.");
                }
            }
        }

        var isolation = options.Isolation;
        if (isolation is null)
        {
            failures.Add($"{Prefix}{nameof(options.Isolation)} must not be empty.");
        }
        else
        {
            if (!Enum.IsDefined(isolation.Mode))
            {
                failures.Add($"{Prefix}Isolation:{nameof(isolation.Mode)} must be Auto, Required or Off; got '{isolation.Mode}'.");
            }

            if (isolation.UidRangeStart is < MinIsolatedUid or > MaxIsolatedUid)
            {
                failures.Add($"{Prefix}Isolation:{nameof(isolation.UidRangeStart)} must be between {MinIsolatedUid} and {MaxIsolatedUid}; got '{isolation.UidRangeStart.ToString(CultureInfo.InvariantCulture)}'.");
            }

            if (isolation.UidRangeSize < 1 || isolation.UidRangeStart + isolation.UidRangeSize - 1 > MaxIsolatedUid)
            {
                failures.Add($"{Prefix}Isolation:{nameof(isolation.UidRangeSize)} must be at least 1 and keep the range at or below {MaxIsolatedUid}; got '{isolation.UidRangeSize.ToString(CultureInfo.InvariantCulture)}'.");
            }

            if (isolation.CpuBurstPercent is < 0 or > 100)
            {
                failures.Add($"{Prefix}Isolation:{nameof(isolation.CpuBurstPercent)} must be 0 to 100 (percent of a vPod's cpu quota the kernel lets it save up), or unset; got '{isolation.CpuBurstPercent.Value.ToString(CultureInfo.InvariantCulture)}'.");
            }

            if (string.IsNullOrWhiteSpace(isolation.UidRegistry) || !Path.IsPathFullyQualified(isolation.UidRegistry) || isolation.UidRegistry.Contains('\0', StringComparison.Ordinal))
            {
                failures.Add($"{Prefix}Isolation:{nameof(isolation.UidRegistry)} must be an absolute directory path; got '{isolation.UidRegistry}'.");
            }

            if (isolation.PidsLimit is < MinPidsLimit or > MaxPidsLimit)
            {
                failures.Add($"{Prefix}Isolation:{nameof(isolation.PidsLimit)} must be between {MinPidsLimit} and {MaxPidsLimit}; got '{isolation.PidsLimit.ToString(CultureInfo.InvariantCulture)}'.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
