using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Federation;

/// <summary>How federated jobs run, section <c>MetaNode:Federation:Jobs</c>.</summary>
public sealed class FederatedJobOptions
{
    public const string SectionName = "MetaNode:Federation:Jobs";

    /// <summary>How often an active job checks its deadline and resumes work (a finished round advances at once).</summary>
    public TimeSpan PumpInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Period of the reminder that re-activates an active job after a silo loss (at least the reminder service's minimum).</summary>
    public TimeSpan KeepAlivePeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Consecutive failures of one step (a workload or the chain unreachable) before the job fails.</summary>
    public int MaxStepFailures { get; set; } = 10;

    /// <summary>Where the built-in data sets are (<c>datasets/</c> below it); empty: beside the silo.</summary>
    public string? DatasetBaseDirectory { get; set; }
}

public sealed class FederatedJobOptionsValidator : IValidateOptions<FederatedJobOptions>
{
    private const string Prefix = FederatedJobOptions.SectionName + ":";

    public ValidateOptionsResult Validate(string? name, FederatedJobOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.PumpInterval < TimeSpan.FromMilliseconds(10) || options.PumpInterval > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{Prefix}{nameof(options.PumpInterval)} must be 10ms to 1 minute; got '{options.PumpInterval}'.");
        }

        if (options.KeepAlivePeriod < TimeSpan.FromSeconds(1) || options.KeepAlivePeriod > TimeSpan.FromHours(1))
        {
            failures.Add($"{Prefix}{nameof(options.KeepAlivePeriod)} must be 1 second to 1 hour; got '{options.KeepAlivePeriod}'.");
        }

        if (options.MaxStepFailures is < 1 or > 1000)
        {
            failures.Add($"{Prefix}{nameof(options.MaxStepFailures)} must be 1-1000; got '{options.MaxStepFailures}'.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
