using MetaNode.Federation;

namespace MetaNode.Grains.Federation;

/// <summary>
/// Loads a federated job's data set: an upload (<c>sha256:HEX</c>) from the bytes its content-addressed grain holds, else a built-in
/// set or a file under the data set root (<see cref="BuiltInDatasets.Load"/>). Reading a file, inflating gzip and parsing the CSV run
/// on the thread pool, never on the caller's scheduler: a grain awaiting the load keeps its turn free of file I/O and parsing.
/// </summary>
public static class FederatedJobDatasetLoader
{
    /// <param name="dataset">The job spec's data set reference.</param>
    /// <param name="jobSeed">The job's seed (the synthetic set derives its own from it).</param>
    /// <param name="baseDirectory">Where the built-in sets ship.</param>
    /// <param name="datasets">The silo's data set options (root and size limit).</param>
    /// <param name="upload">Fetches an upload's bytes by its hash (null when nothing was uploaded under it); called on the caller's scheduler.</param>
    /// <param name="cancellationToken">Cancels fetching an upload.</param>
    public static async Task<TabularDataset> LoadAsync(
        string dataset,
        ulong jobSeed,
        string? baseDirectory,
        DatasetOptions datasets,
        Func<string, CancellationToken, Task<byte[]?>> upload,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(datasets);
        ArgumentNullException.ThrowIfNull(upload);
        if (!DatasetReferences.TryParseUpload(dataset, out var hash))
        {
            return await ReadOffSchedulerAsync(() => BuiltInDatasets.Load(dataset, jobSeed, baseDirectory, datasets));
        }

        var bytes = await upload(hash, cancellationToken)
            ?? throw new InvalidDatasetException($"no data set was uploaded as {dataset}: upload it first ('metanode-cli job run --dataset PATH' does).");
        return await ReadOffSchedulerAsync(() => CsvDatasetReader.Read(new MemoryStream(bytes, writable: false), dataset, BuiltInDatasets.UploadName(hash), datasets.MaxUploadBytes));
    }

    /// <summary>
    /// Runs <paramref name="read"/> on the thread pool (the default scheduler, whatever scheduler the caller runs on); its result or
    /// exception comes back to the caller's scheduler through the await.
    /// </summary>
    internal static Task<T> ReadOffSchedulerAsync<T>(Func<T> read) => Task.Run(read);
}
