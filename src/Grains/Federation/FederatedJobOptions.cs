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

    /// <summary>How long a round waits before it asks the compute vPods that have not answered again (their update may have been lost with a silo).</summary>
    public TimeSpan RedispatchInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long one step may keep failing (a workload, a validator or the chain unreachable, e.g. while a silo dies) before the job fails.</summary>
    public TimeSpan StepRetryTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// How long a round, once the quorum of validators agrees, still waits for the validators that have not answered (their
    /// signatures join the round's record). Zero: the round finalizes as soon as the quorum agrees (the chain takes exactly k
    /// signatures either way); a late validator's vote is then not recorded, nor counted as disagreeing.
    /// </summary>
    public TimeSpan QuorumGrace { get; set; } = TimeSpan.Zero;

    /// <summary>Pause between retries of a failing step.</summary>
    public TimeSpan StepRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The largest answer the silo reads from a workload (a trained model update is the largest legitimate one); a larger answer is
    /// refused without being buffered. Default 64 MiB.
    /// </summary>
    public long MaxWorkloadResponseBytes { get; set; } = FederatedWorkloadClient.DefaultMaxResponseBytes;

    /// <summary>
    /// Secure aggregation: how long the job waits for the compute workloads in each stage other than training (keys, shares,
    /// survivor confirmation, reveal); a vPod that has not answered by then counts as dropped. Training waits until the round's deadline.
    /// </summary>
    public TimeSpan SecureStageTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How many finalized rounds a job keeps in its own state before it moves them, as one page, to its history
    /// (<see cref="MetaNode.Federation.IFederatedJobHistoryGrain"/>): the job's state is written at every step of a round, so it must not grow with the rounds.
    /// </summary>
    public int HistoryPageRounds { get; set; } = 8;

    /// <summary>Where the built-in data sets are (<c>datasets/</c> below it); empty: beside the silo.</summary>
    public string? DatasetBaseDirectory { get; set; }
}

public sealed class FederatedJobOptionsValidator : IValidateOptions<FederatedJobOptions>
{
    public const long MinWorkloadResponseBytes = 64 * 1024;
    public const long MaxWorkloadResponseBytes = 1024L * 1024 * 1024;
    public const int MaxHistoryPageRounds = 4096;
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

        if (options.RedispatchInterval < TimeSpan.FromMilliseconds(100) || options.RedispatchInterval > TimeSpan.FromHours(1))
        {
            failures.Add($"{Prefix}{nameof(options.RedispatchInterval)} must be 100ms to 1 hour; got '{options.RedispatchInterval}'.");
        }

        if (options.StepRetryTimeout < TimeSpan.FromSeconds(1) || options.StepRetryTimeout > TimeSpan.FromDays(1))
        {
            failures.Add($"{Prefix}{nameof(options.StepRetryTimeout)} must be 1 second to 1 day; got '{options.StepRetryTimeout}'.");
        }

        if (options.QuorumGrace < TimeSpan.Zero || options.QuorumGrace > TimeSpan.FromHours(1))
        {
            failures.Add($"{Prefix}{nameof(options.QuorumGrace)} must be 0 to 1 hour; got '{options.QuorumGrace}'.");
        }

        if (options.StepRetryDelay < TimeSpan.Zero || options.StepRetryDelay > TimeSpan.FromMinutes(5))
        {
            failures.Add($"{Prefix}{nameof(options.StepRetryDelay)} must be 0 to 5 minutes; got '{options.StepRetryDelay}'.");
        }

        if (options.MaxWorkloadResponseBytes < MinWorkloadResponseBytes || options.MaxWorkloadResponseBytes > MaxWorkloadResponseBytes)
        {
            failures.Add($"{Prefix}{nameof(options.MaxWorkloadResponseBytes)} must be {MinWorkloadResponseBytes} to {MaxWorkloadResponseBytes} bytes; got '{options.MaxWorkloadResponseBytes}'.");
        }

        if (options.HistoryPageRounds is < 1 or > MaxHistoryPageRounds)
        {
            failures.Add($"{Prefix}{nameof(options.HistoryPageRounds)} must be 1 to {MaxHistoryPageRounds}; got '{options.HistoryPageRounds}'.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
