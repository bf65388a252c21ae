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

    public async Task<string> UploadDatasetAsync(byte[] data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        var hash = DatasetFiles.Hash(data);
        await _grainFactory.GetGrain<IFederatedDatasetGrain>(hash).PutAsync(data, cancellationToken).ConfigureAwait(false);
        return DatasetReferences.ForUpload(hash);
    }

    public async Task<string> UploadDatasetAsync(Stream data, long maxBytes = DatasetFiles.DefaultMaxBytes, CancellationToken cancellationToken = default) =>
        await UploadDatasetAsync(await DatasetFiles.ReadBoundedAsync(data, maxBytes, "stream", cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    public Task<string> UploadDatasetFileAsync(string path, long maxBytes = DatasetFiles.DefaultMaxBytes, CancellationToken cancellationToken = default) =>
        UploadDatasetAsync(DatasetFiles.ReadFile(path, maxBytes), cancellationToken);

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

/// <summary>What a <c>--dataset</c> argument names.</summary>
public enum DatasetArgumentKind
{
    /// <summary><c>digits</c>, <c>synthetic</c> or <c>sha256:HEX</c>: passed to the silo as is.</summary>
    Named = 0,

    /// <summary>A file on this machine: read here (bounded) and uploaded.</summary>
    LocalFile = 1,

    /// <summary><c>silo:PATH</c>: a file below the silo's data set root, which the silo reads.</summary>
    SiloFile = 2,
}

/// <summary>The rule for a <c>--dataset</c> argument.</summary>
public static class DatasetArgument
{
    public const string SiloPrefix = "silo:";

    /// <summary>What <paramref name="argument"/> names; <paramref name="dataset"/> is the local path, the silo path without <c>silo:</c>, or the name.</summary>
    public static DatasetArgumentKind Classify(string argument, out string dataset)
    {
        ArgumentNullException.ThrowIfNull(argument);
        if (argument.StartsWith(SiloPrefix, StringComparison.Ordinal))
        {
            dataset = argument[SiloPrefix.Length..];
            return DatasetArgumentKind.SiloFile;
        }

        dataset = argument;
        return argument is "digits" or "synthetic" || DatasetReferences.TryParseUpload(argument, out _)
            ? DatasetArgumentKind.Named
            : DatasetArgumentKind.LocalFile;
    }
}
