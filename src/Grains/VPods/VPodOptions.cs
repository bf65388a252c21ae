using Microsoft.Extensions.Options;

namespace MetaNode.Grains.VPods;

/// <summary>Supervision of vPods: health probes, restart backoff, stop timeouts. Section <c>MetaNode:VPods</c>.</summary>
public sealed class VPodOptions
{
    public const string SectionName = "MetaNode:VPods";

    /// <summary>How often a running vPod's runtime state and <c>/healthz</c> are probed.</summary>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a starting vPod is probed until it first answers.</summary>
    public TimeSpan StartupProbeInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long one <c>/healthz</c> request may take.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Failed probes in a row that make a vPod unhealthy (and so Failed).</summary>
    public int FailureThreshold { get; set; } = 3;

    /// <summary>How long a starting workload may take to answer its first probe before failures count.</summary>
    public TimeSpan StartupGracePeriod { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>First restart delay; doubled for each failure in a row.</summary>
    public TimeSpan RestartBackoffInitial { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest restart delay.</summary>
    public TimeSpan RestartBackoffCap { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>A vPod running this long without failing starts its backoff from the beginning again.</summary>
    public TimeSpan BackoffResetAfter { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Grace given to a workload found running under a silo that no longer supervises it before it is killed.</summary>
    public TimeSpan OrphanStopTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How many phase transitions a vPod keeps in its status.</summary>
    public int MaxTransitions { get; set; } = 20;
}

public sealed class VPodOptionsValidator : IValidateOptions<VPodOptions>
{
    public ValidateOptionsResult Validate(string? name, VPodOptions options)
    {
        var failures = new List<string>();
        void Positive(TimeSpan value, string key)
        {
            if (value <= TimeSpan.Zero)
            {
                failures.Add($"{VPodOptions.SectionName}:{key} must be a positive duration, got '{value}'.");
            }
        }

        Positive(options.ProbeInterval, nameof(VPodOptions.ProbeInterval));
        Positive(options.StartupProbeInterval, nameof(VPodOptions.StartupProbeInterval));
        Positive(options.ProbeTimeout, nameof(VPodOptions.ProbeTimeout));
        Positive(options.StartupGracePeriod, nameof(VPodOptions.StartupGracePeriod));
        Positive(options.RestartBackoffInitial, nameof(VPodOptions.RestartBackoffInitial));
        Positive(options.RestartBackoffCap, nameof(VPodOptions.RestartBackoffCap));
        Positive(options.BackoffResetAfter, nameof(VPodOptions.BackoffResetAfter));
        Positive(options.OrphanStopTimeout, nameof(VPodOptions.OrphanStopTimeout));
        if (options.RestartBackoffCap < options.RestartBackoffInitial)
        {
            failures.Add($"{VPodOptions.SectionName}:RestartBackoffCap ('{options.RestartBackoffCap}') must not be below RestartBackoffInitial ('{options.RestartBackoffInitial}').");
        }

        if (options.FailureThreshold < 1)
        {
            failures.Add($"{VPodOptions.SectionName}:FailureThreshold must be at least 1, got '{options.FailureThreshold}'.");
        }

        if (options.MaxTransitions < 1)
        {
            failures.Add($"{VPodOptions.SectionName}:MaxTransitions must be at least 1, got '{options.MaxTransitions}'.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
