using MetaNode.Federation;

namespace MetaNode.Tests.Cli;

/// <summary>The job half of the fake client: records the started spec and serves canned statuses.</summary>
internal sealed partial class FakeMetaNodeClient
{
    public Dictionary<string, FederatedJobStatus> Jobs { get; } = new(StringComparer.Ordinal);

    public FederatedJobSpec? StartedJob { get; private set; }

    public Task<FederatedJobStatus> StartJobAsync(FederatedJobSpec spec, string? jobId = null, CancellationToken cancellationToken = default)
    {
        StartedJob = spec;
        var id = jobId ?? "job-fake";
        var status = Jobs.TryGetValue(id, out var canned) ? canned : new FederatedJobStatus { JobId = id, Phase = FederatedJobPhase.Preparing, Spec = spec, Rounds = spec.Rounds };
        Jobs[id] = status;
        return Task.FromResult(status);
    }

    public List<byte[]> Uploads { get; } = [];

    public Task<string> UploadDatasetAsync(byte[] data, CancellationToken cancellationToken = default)
    {
        Uploads.Add(data);
        return Task.FromResult(DatasetReferences.ForUpload(DatasetFiles.Hash(data)));
    }

    public Task<FederatedJobStatus> GetJobStatusAsync(string jobId, CancellationToken cancellationToken = default) =>
        Jobs.TryGetValue(jobId, out var status) ? Task.FromResult(status) : throw new JobNotFoundException(jobId);

    public Task<IReadOnlyList<FederatedJobSummary>> ListJobsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<FederatedJobSummary>>(Jobs.Values.Select(j => new FederatedJobSummary { JobId = j.JobId, Phase = j.Phase, Round = j.Round, Rounds = j.Rounds }).ToList());

    public Dictionary<(string Job, int Round), byte[]> Models { get; } = [];

    public Task<byte[]?> GetJobModelAsync(string jobId, int round, CancellationToken cancellationToken = default) =>
        Task.FromResult(Models.GetValueOrDefault((jobId, round)));

    public Task<FederatedJobStatus> CancelJobAsync(string jobId, CancellationToken cancellationToken = default) =>
        Task.FromResult(Jobs[jobId] = Jobs[jobId] with { Phase = FederatedJobPhase.Cancelled });
}
