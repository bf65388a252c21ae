using System.Diagnostics;
using System.Globalization;
using MetaNode.Client;
using MetaNode.Storage;
using MetaNode.VPods;

namespace MetaNode.Bench;

/// <summary>
/// <c>bench storage [ROUNDS] [BLOCKS]</c>: <c>storage put</c> and <c>storage get</c> of 1 MiB and 64 MiB files through a storage
/// cluster (four process vPods, three copies of every block) against a plain copy of the same file on the same disk (flushed),
/// side by side in each round; then the time to re-replicate after a storage vPod stops, for BLOCKS blocks of 64 KiB.
/// </summary>
internal static class StorageBench
{
    private const string Cluster = "bench-storage";

    public static async Task RunAsync(string[] args)
    {
        var rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        var blockCount = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1000;
        var dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-bench-storage", Guid.NewGuid().ToString("N")[..8]);
        var files = Path.Combine(dataDirectory, "files");
        Directory.CreateDirectory(files);
        try
        {
            var settings = new Dictionary<string, string?>
            {
                ["MetaNode:VPods:ProbeInterval"] = "00:00:01",
                ["MetaNode:Storage:RepairInterval"] = "01:00:00",
                ["MetaNode:Storage:GcInterval"] = "1.00:00:00",
            };
            await using var silo = await BenchHost.StartSiloAsync(dataDirectory, settings);
            var grains = silo.Client;
            await grains.GetGrain<MetaNode.Clusters.IVPodClusterGrain>(Cluster).DeployAsync(new MetaNode.Clusters.ClusterSpec
            {
                Name = Cluster,
                Count = 4,
                MemberType = VPodType.Storage,
                Replication = 3,
                CpuMillis = 500,
                MemoryBytes = 256L << 20,
            });
            await FederatedRoundBench.WaitHealthyAsync(grains, Cluster, 4);
            await using var client = new MetaNodeClient(grains);

            var sizes = new[] { 1 << 20, 64 << 20 };
            var sources = new Dictionary<int, string>();
            foreach (var size in sizes)
            {
                var bytes = new byte[size];
                new Random(size).NextBytes(bytes);
                sources[size] = Path.Combine(files, $"{size}.bin");
                await File.WriteAllBytesAsync(sources[size], bytes);
            }

            Console.WriteLine("| round | size | plain copy (MiB/s) | storage put (MiB/s) | storage get (MiB/s) | put / copy | get / copy |");
            Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|");
            for (var round = 0; round <= rounds; round++)
            {
                foreach (var size in sizes)
                {
                    var copy = await TimeAsync(() => CopyAsync(sources[size], Path.Combine(files, "copy.bin")));
                    string? cid = null;
                    var put = await TimeAsync(async () =>
                    {
                        await using var input = File.OpenRead(sources[size]);
                        cid = (await client.PutFileAsync(Cluster, input)).Cid;
                    });
                    var get = await TimeAsync(async () =>
                    {
                        await using var output = new FileStream(Path.Combine(files, "get.bin"), FileMode.Create, FileAccess.Write);
                        await client.GetFileAsync(Cluster, cid!, output);
                        output.Flush(flushToDisk: true);
                    });
                    if (round == 0)
                    {
                        continue; // warm-up
                    }

                    double Rate(TimeSpan t) => size / 1048576.0 / t.TotalSeconds;
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {round} | {size >> 20} MiB | {Rate(copy):F0} | {Rate(put):F1} | {Rate(get):F1} | {Rate(put) / Rate(copy):F3} | {Rate(get) / Rate(copy):F3} |"));
                }
            }

            await RepairAsync(grains, blockCount);
        }
        finally
        {
            BenchHost.DeleteDirectory(dataDirectory);
        }
    }

    /// <summary>Stores <paramref name="count"/> pinned 64 KiB blocks, stops the member that holds the most, and times the repair pass that restores three copies.</summary>
    private static async Task RepairAsync(IGrainFactory grains, int count)
    {
        var storage = grains.GetGrain<IStorageGrain>(Cluster);
        var random = new Random(1);
        var uploads = new List<BlockUpload>();
        for (var i = 0; i < count; i++)
        {
            var data = new byte[64 * 1024];
            random.NextBytes(data);
            uploads.Add(new BlockUpload(Cid.Of(Multicodec.Raw, data).ToString(), data));
        }

        foreach (var batch in uploads.Chunk(64))
        {
            await storage.PutBlocksAsync(batch);
        }

        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var upload in uploads)
        {
            foreach (var holder in (await storage.StatAsync(upload.Cid))!.Holders)
            {
                counts[holder] = counts.GetValueOrDefault(holder) + 1;
            }
        }

        var victim = counts.MaxBy(c => c.Value).Key;
        await grains.GetGrain<IVPodGrain>(victim).StopAsync(new StopOptions());
        var watch = Stopwatch.StartNew();
        var report = await storage.RepairAsync();
        watch.Stop();
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"re-replication after stopping {victim}: {report.CopiesMade} copies made ({counts[victim]} of the {count} 64 KiB blocks had a copy there, the rest are the files' 256 KiB chunks) in {watch.Elapsed.TotalMilliseconds:F0} ms = {report.CopiesMade / watch.Elapsed.TotalSeconds:F0} blocks/s; under-replicated after: {report.UnderReplicated}"));
    }

    private static async Task CopyAsync(string source, string destination)
    {
        await using var input = File.OpenRead(source);
        await using var output = new FileStream(destination, FileMode.Create, FileAccess.Write);
        await input.CopyToAsync(output);
        output.Flush(flushToDisk: true);
    }

    private static async Task<TimeSpan> TimeAsync(Func<Task> action)
    {
        var watch = Stopwatch.StartNew();
        await action();
        return watch.Elapsed;
    }
}
