using System.Globalization;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>Checks <see cref="ProcessRuntimeOptions"/> and reports every bad setting with its configuration key and value.</summary>
public sealed class ProcessRuntimeOptionsValidator : IValidateOptions<ProcessRuntimeOptions>
{
    public const long MinLogMaxBytes = 1024;
    public const int MaxLogMaxFiles = 100;

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

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
