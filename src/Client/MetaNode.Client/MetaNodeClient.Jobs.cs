using System.Security.Cryptography;
using MetaNode.Federation;

namespace MetaNode.Client;

public sealed partial class MetaNodeClient
{
    public Task<FederatedJobStatus> StartJobAsync(FederatedJobSpec spec, string? jobId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return _grainFactory.GetGrain<IFederatedJobGrain>(jobId ?? NewJobId()).StartAsync(spec, cancellationToken);
    }

    public Task<FederatedJobStatus> GetJobStatusAsync(string jobId, CancellationToken cancellationToken = default) =>
        Job(jobId).GetStatusAsync(cancellationToken);

    public Task<IReadOnlyList<FederatedJobSummary>> ListJobsAsync(CancellationToken cancellationToken = default) =>
        _grainFactory.GetGrain<IFederatedJobRegistryGrain>(FederatedJobRegistryKeys.Default).ListAsync(cancellationToken);

    public Task<FederatedJobStatus> CancelJobAsync(string jobId, CancellationToken cancellationToken = default) =>
        Job(jobId).CancelAsync(cancellationToken);

    public Task<byte[]?> GetJobModelAsync(string jobId, int round, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(round);
        return Job(jobId).GetModelAsync(round, cancellationToken);
    }

    /// <summary>A new job id: <c>job-</c> and 10 random hex digits (it fits the registry's bytes32 job id).</summary>
    public static string NewJobId() => "job-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));

    private IFederatedJobGrain Job(string jobId)
    {
        if (string.IsNullOrWhiteSpace(jobId) || jobId.Length > 32)
        {
            throw new ArgumentException($"Invalid job id '{jobId}': use the id 'job run' printed (at most 32 characters).", nameof(jobId));
        }

        return _grainFactory.GetGrain<IFederatedJobGrain>(jobId);
    }
}
