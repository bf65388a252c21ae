using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using MetaNode.Client;
using MetaNode.Storage;
using MetaNode.Tests.Infrastructure;
using MetaNode.Workloads;
using Xunit.Abstractions;

namespace MetaNode.Tests.Storage;

/// <summary>
/// The embedded silo process with a storage cluster of four process vPods running the reference workload, replication 3:
/// what a user does with <c>storage …</c> and <c>curl /ipfs/{cid}</c>.
/// </summary>
public sealed class StorageSiloFixture : IAsyncLifetime
{
    public const string Cluster = "store";
    public const int Members = 4;
    public const int Replication = 3;

    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-storage-tests", Guid.NewGuid().ToString("N")[..10]);

    public SiloProcess Silo { get; private set; } = null!;

    public CliRunner Cli => Silo.Cli();

    public string Scratch => Path.Combine(_dataDirectory, "scratch");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Scratch);
        Silo = new SiloProcess(
            _dataDirectory,
            $"--MetaNode:Chain:DevChain:AnvilPath={AnvilNode.BinaryPath}",
            "--MetaNode:VPods:ProbeInterval=00:00:00.300",
            "--MetaNode:Capacity:Cpu=64",
            "--MetaNode:Storage:RepairInterval=00:00:00.300",
            "--MetaNode:Storage:GcInterval=01:00:00",
            "--MetaNode:Storage:GcGracePeriod=00:00:00",
            "--MetaNode:Storage:MembershipCacheTtl=00:00:00");
        await Silo.StartAsync();
        await Cli.JsonAsync("cluster", "deploy", "--name", Cluster, "--count", $"{Members}", "--type", "storage", "--replication", $"{Replication}", "--cpu", "500m", "--memory", "200Mi");
        await WaitRunningAsync(Members);
    }

    public Task WaitRunningAsync(int running) => Eventually.WaitAsync(
        () => Cli.JsonAsync("cluster", "status", "--name", Cluster),
        s => s.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("phase").GetString() == "Running") == running,
        $"{running} running members of {Cluster}",
        TimeSpan.FromSeconds(120));

    /// <summary>What each running member's workload holds, by vPod id, read from the workloads themselves.</summary>
    public async Task<Dictionary<string, HashSet<string>>> HeldAsync()
    {
        using var http = new HttpClient();
        var held = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var status = await Cli.JsonAsync("cluster", "status", "--name", Cluster);
        foreach (var member in status.GetProperty("members").EnumerateArray().Where(m => m.GetProperty("phase").GetString() == "Running"))
        {
            var id = member.GetProperty("id").GetString()!;
            var endpoint = (await Cli.StatusAsync(id)).GetProperty("endpoint").GetString()!;
            var list = JsonDocument.Parse(await http.GetStringAsync(new Uri(new Uri(endpoint), StorageProtocol.BlocksPath))).RootElement;
            held[id] = list.GetProperty("blocks").EnumerateArray().Select(b => b.GetProperty("cid").GetString()!).ToHashSet(StringComparer.Ordinal);
        }

        return held;
    }

    public async Task<string> WriteAsync(string name, byte[] content)
    {
        var path = Path.Combine(Scratch, name);
        await File.WriteAllBytesAsync(path, content);
        return path;
    }

    public async Task DisposeAsync()
    {
        await Silo.DisposeAsync();
        SiloProcess.KillWorkloadsUnder(_dataDirectory);
        try
        {
            SiloProcess.DeleteSiloDirectories(_dataDirectory);
        }
        catch (IOException)
        {
            // A file still held open by an exiting process: the temporary directory is left for the OS to clean.
        }
    }
}

public sealed class StorageSiloTests(StorageSiloFixture fixture, ITestOutputHelper output) : IClassFixture<StorageSiloFixture>
{
    private const string Cluster = StorageSiloFixture.Cluster;

    private CliRunner Cli => fixture.Cli;

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task Put_GivesTheImportersCid_GetReturnsTheBytesWithAVPodStopped_AndItsBlocksAreCopiedBackToThreeVPods()
    {
        var content = RandomBytes((5 * 1024 * 1024) + 12345, seed: 5);
        var path = await fixture.WriteAsync("five-mib.bin", content);
        var put = await Cli.JsonAsync("storage", "put", path);
        var cid = put.GetProperty("cid").GetString()!;
        Assert.Equal(await IpfsReference.CidAsync(path), cid);
        Assert.StartsWith("bafy", cid, StringComparison.Ordinal);
        Assert.Equal(content.Length, put.GetProperty("size").GetInt64());
        Assert.Equal(Cluster, put.GetProperty("cluster").GetString());

        var blocks = UnixFsFile.Import(content).Select(b => b.Cid.ToString()).Distinct().ToList();
        Assert.Equal(blocks.Count, put.GetProperty("blocks").GetInt32());
        var held = await fixture.HeldAsync();
        Assert.All(blocks, b => Assert.Equal(StorageSiloFixture.Replication, held.Values.Count(h => h.Contains(b))));

        var stat = await Cli.JsonAsync("storage", "stat", cid);
        Assert.Equal("dag-pb", stat.GetProperty("codec").GetString());
        Assert.Equal(content.Length, stat.GetProperty("size").GetInt64());
        Assert.Equal(StorageSiloFixture.Replication, stat.GetProperty("minLiveCopies").GetInt32());

        // Stop a vPod that holds the root: every block is still read from another copy, and checked.
        var victim = stat.GetProperty("holders")[0].GetString()!;
        await Cli.JsonAsync("vpod", "stop", "--id", victim);
        try
        {
            var copy = Path.Combine(fixture.Scratch, "five-mib.out");
            var get = await Cli.JsonAsync("storage", "get", cid, "--out", copy);
            Assert.Equal(content.Length, get.GetProperty("bytes").GetInt64());
            Assert.Equal(content, await File.ReadAllBytesAsync(copy));

            // The repair loop copies what the stopped vPod held to the fourth member: three live copies of every block again.
            await Eventually.WaitAsync(
                fixture.HeldAsync,
                h => blocks.All(b => h.Where(x => x.Key != victim).Count(x => x.Value.Contains(b)) >= StorageSiloFixture.Replication),
                "every block on three running storage vPods other than the stopped one",
                TimeSpan.FromSeconds(60));
            Assert.True((await Cli.JsonAsync("storage", "stat", cid)).GetProperty("minLiveCopies").GetInt32() >= StorageSiloFixture.Replication);
        }
        finally
        {
            // (A leader may have started it again already.)
            await Cli.RunAsync("vpod", "start", "--id", victim);
            await fixture.WaitRunningAsync(StorageSiloFixture.Members);
        }
    }

    [Fact]
    public async Task ScaleDown_DeletesAMemberWithItsVolume_AndItsBlocksAreCopiedToTheMembersLeft()
    {
        var content = RandomBytes((2 * UnixFsFile.ChunkSize) + 5, seed: 41);
        var cid = (await Cli.JsonAsync("storage", "put", await fixture.WriteAsync("scaled", content))).GetProperty("cid").GetString()!;
        var blocks = UnixFsFile.Import(content).Select(b => b.Cid.ToString()).ToList();
        var deleted = $"vpod-{Cluster}-{StorageSiloFixture.Members - 1}";
        await Cli.JsonAsync("cluster", "scale", "--name", Cluster, "--count", $"{StorageSiloFixture.Members - 1}");
        try
        {
            // Three members left and three copies wanted: every block ends up on each of them, and the deleted vPod holds nothing.
            await Eventually.WaitAsync(
                fixture.HeldAsync,
                h => h.Count == StorageSiloFixture.Members - 1 && !h.ContainsKey(deleted) && blocks.All(b => h.Values.All(x => x.Contains(b))),
                "every block on the three members left",
                TimeSpan.FromSeconds(90));
            var stat = await Eventually.WaitAsync(
                () => Cli.JsonAsync("storage", "stat", cid),
                s => s.GetProperty("holders").EnumerateArray().All(h => h.GetString() != deleted),
                "the deleted member dropped from the root's holders",
                TimeSpan.FromSeconds(30));
            Assert.Equal(StorageSiloFixture.Replication, stat.GetProperty("minLiveCopies").GetInt32());
            var copy = Path.Combine(fixture.Scratch, "scaled.out");
            await Cli.JsonAsync("storage", "get", cid, "--out", copy);
            Assert.Equal(content, await File.ReadAllBytesAsync(copy));
        }
        finally
        {
            await Cli.JsonAsync("cluster", "scale", "--name", Cluster, "--count", $"{StorageSiloFixture.Members}");
            await fixture.WaitRunningAsync(StorageSiloFixture.Members);
        }
    }

    [Fact]
    public async Task Gc_RemovesOnlyBlocksNothingReferences_AndKeepsSharedChunksLocksAndPins()
    {
        var pinned = RandomBytes(3 * UnixFsFile.ChunkSize, seed: 11);
        var sharing = pinned.Take(UnixFsFile.ChunkSize).Concat(RandomBytes(UnixFsFile.ChunkSize + 7, seed: 12)).ToArray();
        var locked = RandomBytes(2 * UnixFsFile.ChunkSize + 3, seed: 13);
        var pinnedCid = (await Cli.JsonAsync("storage", "put", await fixture.WriteAsync("pinned", pinned))).GetProperty("cid").GetString()!;
        var sharingCid = (await Cli.JsonAsync("storage", "put", await fixture.WriteAsync("sharing", sharing))).GetProperty("cid").GetString()!;
        var lockedCid = (await Cli.JsonAsync("storage", "put", await fixture.WriteAsync("locked", locked))).GetProperty("cid").GetString()!;
        await Cli.JsonAsync("storage", "lock", "gc-test/locked", lockedCid);
        Assert.True((await Cli.JsonAsync("storage", "unpin", lockedCid)).GetProperty("unpinned").GetBoolean());
        Assert.True((await Cli.JsonAsync("storage", "unpin", sharingCid)).GetProperty("unpinned").GetBoolean());
        Assert.False((await Cli.JsonAsync("storage", "unpin", sharingCid)).GetProperty("unpinned").GetBoolean());

        var gc = await Cli.JsonAsync("storage", "gc");
        output.WriteLine(gc.ToString());

        // The unpinned file's own blocks are gone from every storage vPod; its first chunk, shared with a pinned file, is not.
        var sharingBlocks = UnixFsFile.Import(sharing).Select(b => b.Cid.ToString()).ToList();
        var pinnedBlocks = UnixFsFile.Import(pinned).Select(b => b.Cid.ToString()).ToHashSet();
        var lockedBlocks = UnixFsFile.Import(locked).Select(b => b.Cid.ToString()).ToList();
        var held = (await fixture.HeldAsync()).Values.SelectMany(h => h).ToHashSet(StringComparer.Ordinal);
        Assert.Contains(sharingBlocks[0], pinnedBlocks);
        Assert.Contains(sharingBlocks[0], held);
        Assert.All(sharingBlocks.Where(b => !pinnedBlocks.Contains(b)), b => Assert.DoesNotContain(b, held));
        Assert.All(pinnedBlocks, b => Assert.Contains(b, held));
        Assert.All(lockedBlocks, b => Assert.Contains(b, held));
        Assert.True(gc.GetProperty("removed").GetInt32() >= 2);

        Assert.Equal(1, (await Cli.RunAsync("storage", "stat", sharingCid)).ExitCode);
        var lockedCopy = Path.Combine(fixture.Scratch, "locked.out");
        await Cli.JsonAsync("storage", "get", lockedCid, "--out", lockedCopy);
        Assert.Equal(locked, await File.ReadAllBytesAsync(lockedCopy));
        var pins = await Cli.JsonAsync("storage", "ls");
        Assert.Contains(pins.EnumerateArray(), p => p.GetProperty("cid").GetString() == lockedCid && p.GetProperty("owner").GetString() == "lock:gc-test/locked");
        Assert.DoesNotContain(pins.EnumerateArray(), p => p.GetProperty("cid").GetString() == sharingCid);
    }

    [Fact]
    public async Task Gateway_ServesCarsAndBlocksThatIpfsClientsVerify_AndNothingThatIsNotPinned()
    {
        using var http = new HttpClient { BaseAddress = fixture.Silo.HttpBase };

        // A blob of one chunk: a raw CID, the known vector.
        var hello = (await Cli.JsonAsync("storage", "put", await fixture.WriteAsync("hello", "hello vpod\n"u8.ToArray()))).GetProperty("cid").GetString()!;
        Assert.Equal("bafkreicep5galetmxyayynxibzbzrz24kkq2zv3dzaec6pg6p4zwg2bgsm", hello);
        using (var raw = await http.GetAsync($"/ipfs/{hello}"))
        {
            Assert.Equal(HttpStatusCode.OK, raw.StatusCode);
            Assert.Equal("application/vnd.ipld.raw", raw.Content.Headers.ContentType?.MediaType);
            Assert.Equal("hello vpod\n"u8.ToArray(), await raw.Content.ReadAsByteArrayAsync());
        }

        // A file of several chunks: its CAR, checked block by block and unpacked by IPFS's own JavaScript, gives the bytes back.
        var content = RandomBytes((1024 * 1024) + 99, seed: 21);
        var cid = (await Cli.JsonAsync("storage", "put", await fixture.WriteAsync("one-mib", content))).GetProperty("cid").GetString()!;
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/ipfs/{cid}");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.ipld.car"));
        using var car = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, car.StatusCode);
        Assert.Equal("application/vnd.ipld.car", car.Content.Headers.ContentType?.MediaType);
        var carPath = Path.Combine(fixture.Scratch, "one-mib.car");
        await File.WriteAllBytesAsync(carPath, await car.Content.ReadAsByteArrayAsync());
        var unpacked = Path.Combine(fixture.Scratch, "one-mib.unpacked");
        var check = await CheckCarAsync(carPath, cid, unpacked);
        Assert.Equal(UnixFsFile.Import(content).Count, check.GetProperty("blocks").GetInt32());
        Assert.Equal(content, await File.ReadAllBytesAsync(unpacked));

        // ?format=raw of a DAG is its root node, which hashes to the CID.
        var root = await http.GetByteArrayAsync($"/ipfs/{cid}?format=raw");
        Assert.True(Cid.Parse(cid).Verifies(root));

        // A block that was uploaded but is not part of anything pinned is not served; nor is a CID the store never saw.
        var unpinnedBytes = RandomBytes(1000, seed: 22);
        var unpinned = Cid.Of(Multicodec.Raw, unpinnedBytes).ToString();
        await using (var client = await MetaNodeClient.ConnectAsync(ClientOptions()))
        {
            await client.GrainFactory.GetGrain<IStorageGrain>(Cluster).PutBlocksAsync([new BlockUpload(unpinned, unpinnedBytes)]);
            Assert.NotNull(await client.GrainFactory.GetGrain<IStorageGrain>(Cluster).StatAsync(unpinned));
        }

        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/ipfs/{unpinned}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/ipfs/{Cid.Of(Multicodec.Raw, "never stored"u8)}")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/ipfs/QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH")).StatusCode);
        using var html = new HttpRequestMessage(HttpMethod.Get, $"/ipfs/{hello}");
        html.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/html"));
        Assert.Equal(HttpStatusCode.NotAcceptable, (await http.SendAsync(html)).StatusCode);
    }

    [Fact]
    public async Task PutBlocks_RefusesABlockThatDoesNotHashToItsCid_AndStoresNoneOfTheBatch()
    {
        var good = RandomBytes(500, seed: 31);
        var goodCid = Cid.Of(Multicodec.Raw, good).ToString();
        var claimed = Cid.Of(Multicodec.Raw, RandomBytes(500, seed: 32)).ToString();
        await using var client = await MetaNodeClient.ConnectAsync(ClientOptions());
        var storage = client.GrainFactory.GetGrain<IStorageGrain>(Cluster);
        var refused = await Assert.ThrowsAsync<InvalidStorageRequestException>(() => storage.PutBlocksAsync([new BlockUpload(goodCid, good), new BlockUpload(claimed, good)]));
        Assert.Contains("does not hash to its CID", refused.Message, StringComparison.Ordinal);
        Assert.Null(await storage.StatAsync(goodCid));
        Assert.Null(await storage.StatAsync(claimed));
        Assert.All((await fixture.HeldAsync()).Values, h => Assert.DoesNotContain(goodCid, h));

        // The workload checks too: a storage vPod refuses bytes that are not the CID's.
        using var http = new HttpClient();
        var member = (await Cli.JsonAsync("cluster", "status", "--name", Cluster)).GetProperty("members")[0].GetProperty("id").GetString()!;
        var endpoint = new Uri((await Cli.StatusAsync(member)).GetProperty("endpoint").GetString()!);
        using var put = await http.PutAsync(new Uri(endpoint, StorageProtocol.BlockPath(claimed)), new ByteArrayContent(good));
        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(new Uri(endpoint, StorageProtocol.BlockPath(claimed)))).StatusCode);

        // Pinning what is not (completely) stored is refused.
        var pin = await Cli.RunAsync("storage", "pin", claimed);
        Assert.Equal(1, pin.ExitCode);
        Assert.Contains("is not stored", pin.Stderr, StringComparison.Ordinal);
    }

    /// <summary>Checks a CAR with IPFS's own reader and exporter and writes the file it holds; fails the test when it is refused.</summary>
    internal static async Task<JsonElement> CheckCarAsync(string carPath, string root, string outFile)
    {
        var (exitCode, stdout, stderr) = await IpfsReference.CarCheckAsync(carPath, root, outFile);
        Assert.True(exitCode == 0, $"car-check refused the gateway's CAR: {stderr}");
        return JsonDocument.Parse(stdout).RootElement;
    }

    private MetaNodeClientOptions ClientOptions() => new() { Gateways = [fixture.Silo.Gateway], Identity = fixture.Silo.AdminIdentity };
}
