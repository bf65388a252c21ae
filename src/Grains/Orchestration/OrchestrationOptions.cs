using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Orchestration;

/// <summary>Leader election of orchestrator vPods. Section <c>MetaNode:Orchestration</c>.</summary>
public sealed class OrchestrationOptions
{
    public const string SectionName = "MetaNode:Orchestration";

    /// <summary>How long a lease lasts without renewal. A dead leader is replaced within LeaseTtl + RenewalPeriod.</summary>
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often orchestrators renew or campaign (a grain timer), and the leader reconciles its cluster.</summary>
    public TimeSpan RenewalPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The largest clock difference between silos that leader election tolerates.</summary>
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How many leader changes a lease keeps for <c>cluster status</c>.</summary>
    public int HistoryLength { get; set; } = 20;
}

public sealed class OrchestrationOptionsValidator : IValidateOptions<OrchestrationOptions>
{
    public ValidateOptionsResult Validate(string? name, OrchestrationOptions options)
    {
        var failures = new List<string>();
        if (options.LeaseTtl <= TimeSpan.Zero)
        {
            failures.Add($"{OrchestrationOptions.SectionName}:LeaseTtl must be a positive duration, got '{options.LeaseTtl}'.");
        }

        if (options.RenewalPeriod <= TimeSpan.Zero || options.RenewalPeriod * 2 > options.LeaseTtl)
        {
            failures.Add($"{OrchestrationOptions.SectionName}:RenewalPeriod must be positive and at most half of LeaseTtl ('{options.LeaseTtl}'), got '{options.RenewalPeriod}'.");
        }

        if (options.MaxClockSkew < TimeSpan.Zero || options.MaxClockSkew + options.RenewalPeriod >= options.LeaseTtl)
        {
            failures.Add($"{OrchestrationOptions.SectionName}:MaxClockSkew must be zero or more and MaxClockSkew + RenewalPeriod below LeaseTtl ('{options.LeaseTtl}'), got '{options.MaxClockSkew}'.");
        }

        if (options.HistoryLength < 1)
        {
            failures.Add($"{OrchestrationOptions.SectionName}:HistoryLength must be at least 1, got '{options.HistoryLength}'.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
