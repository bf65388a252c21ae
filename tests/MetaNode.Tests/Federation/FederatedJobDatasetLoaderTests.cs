using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using MetaNode.Federation;
using MetaNode.Grains.Federation;

namespace MetaNode.Tests.Federation;

/// <summary>
/// The job's data set load: read and parsed on the thread pool, never on the caller's scheduler. A grain's activation scheduler
/// runs one turn at a time; an exclusive scheduler stands in for it here.
/// </summary>
public sealed class FederatedJobDatasetLoaderTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task ReadOffSchedulerAsync_ReadsOnThePoolWhileTheCallersSchedulerTakesOtherTurns_WhenCalledFromAnExclusiveScheduler()
    {
        var pair = new ConcurrentExclusiveSchedulerPair();
        using var otherTurnRan = new ManualResetEventSlim();
        TaskScheduler? readScheduler = null;
        var readOnPool = false;

        var load = Task.Factory.StartNew(
            async () =>
            {
                var freed = await FederatedJobDatasetLoader.ReadOffSchedulerAsync(() =>
                {
                    readScheduler = TaskScheduler.Current;
                    readOnPool = Thread.CurrentThread.IsThreadPoolThread;

                    // Another turn on the caller's one-at-a-time scheduler runs while the read is under way: the read holds no turn.
                    _ = Task.Factory.StartNew(otherTurnRan.Set, CancellationToken.None, TaskCreationOptions.None, pair.ExclusiveScheduler);
                    return otherTurnRan.Wait(Patience);
                });
                return (Freed: freed, ResumedOn: TaskScheduler.Current);
            },
            CancellationToken.None,
            TaskCreationOptions.None,
            pair.ExclusiveScheduler).Unwrap();
        var (freed, resumedOn) = await load.WaitAsync(Patience);

        Assert.True(freed);
        Assert.Same(TaskScheduler.Default, readScheduler);
        Assert.True(readOnPool);
        Assert.Same(pair.ExclusiveScheduler, resumedOn);
    }

    [Fact]
    public async Task LoadAsync_GivesWhatTheReadersGive_WhenLoadingAnUploadABuiltInSetAndAMissingUpload()
    {
        var csv = new MemoryStream();
        using (var gzip = new GZipStream(csv, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes("a,b,label\n1.5,2,1\n3,-4,0\n0,0,2\n"));
        }

        var bytes = csv.ToArray();
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var upload = "sha256:" + hash;
        var options = new DatasetOptions();
        Task<byte[]?> Uploads(string key, CancellationToken token) => Task.FromResult(key == hash ? bytes : null);

        var uploaded = await FederatedJobDatasetLoader.LoadAsync(upload, 7, null, options, Uploads, CancellationToken.None);
        var synthetic = await FederatedJobDatasetLoader.LoadAsync(BuiltInDatasets.Synthetic, 7, null, options, Uploads, CancellationToken.None);
        var missing = await Assert.ThrowsAsync<InvalidDatasetException>(
            () => FederatedJobDatasetLoader.LoadAsync("sha256:" + new string('0', 64), 7, null, options, Uploads, CancellationToken.None));

        var expectedUpload = CsvDatasetReader.Read(new MemoryStream(bytes, writable: false), upload, BuiltInDatasets.UploadName(hash), options.MaxUploadBytes);
        var expectedSynthetic = BuiltInDatasets.Load(BuiltInDatasets.Synthetic, 7, null, options);
        Assert.Equal((expectedUpload.Name, expectedUpload.Features, expectedUpload.Classes), (uploaded.Name, uploaded.Features, uploaded.Classes));
        Assert.Equal(expectedUpload.Values, uploaded.Values);
        Assert.Equal(expectedUpload.Labels, uploaded.Labels);
        Assert.Equal((expectedSynthetic.Name, expectedSynthetic.Features, expectedSynthetic.Classes), (synthetic.Name, synthetic.Features, synthetic.Classes));
        Assert.Equal(expectedSynthetic.Values, synthetic.Values);
        Assert.Equal(expectedSynthetic.Labels, synthetic.Labels);
        Assert.Equal($"no data set was uploaded as sha256:{new string('0', 64)}: upload it first ('metanode-cli job run --dataset PATH' does).", missing.Message);
    }
}
