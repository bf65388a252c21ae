using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using MetaNode.Storage;
using MetaNode.Workloads;

namespace MetaNode.Tests.Workload;

/// <summary>
/// The block store of a storage vPod (<c>examples/workload-protocol.md</c>, "Blocks"), run against both reference workloads as real
/// processes with the same expectations: the C# workload (<c>src/Workload</c>) and the Python one (<c>examples/python-workload</c>).
/// Each stores, serves, lists and deletes blocks, refuses what is not a supported CID or does not hash to it, and keeps its blocks
/// on its key directory across a restart — in a layout the other workload reads as well.
/// </summary>
public sealed class BlockStoreProtocolTests : IDisposable
{
    private const string VPodId = "vpod-blocks";
    private const string HelloCid = "bafkreicep5galetmxyayynxibzbzrz24kkq2zv3dzaec6pg6p4zwg2bgsm";
    private static readonly byte[] Hello = "hello vpod\n"u8.ToArray();
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    private readonly string _root = Path.Combine(Path.GetTempPath(), $"metanode-blocks-{Guid.NewGuid():N}");
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(120) };

    public void Dispose()
    {
        _http.Dispose();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    /// <summary>CID texts that are not a CIDv1 with a sha2-256 digest in lower-case base32, with a word each answer's error names.</summary>
    private static (string Cid, string Problem)[] RefusedCids()
    {
        var digest = SHA256.HashData(Hello);
        return
        [
            ("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "CIDv0"),
            (Base32Cid([0x12, 0x20, .. digest]), "CIDv0"),
            (HelloCid.ToUpperInvariant(), "multibase prefix 'B'"),
            ("b" + HelloCid[1..].ToUpperInvariant(), "base32"),
            ("zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA", "multibase prefix 'z'"),
            (HelloCid[..^1], "base32"),
            (Base32Cid([0x01, 0x71, 0x12, 0x20, .. digest]), "codec 0x71"),
            (Base32Cid([0x01, 0x55, 0x13, 0x40, .. SHA512.HashData(Hello)]), "multihash 0x13"),
            (Base32Cid([0x01, 0x55, 0x12, 0x14, .. digest[..20]]), "32-byte"),
            (Base32Cid([0x02, 0x55, 0x12, 0x20, .. digest]), "version 2"),
            (Base32Cid([0x01, 0xd5, 0x00, 0x12, 0x20, .. digest]), "minimally"),
            (Base32Cid([0x01, 0x55, 0x12, 0x20, .. digest[..31]]), "truncated"),
            (Base32Cid([0x01, 0x55, 0x12, 0x20, .. digest, 0x00]), "trailing"),
        ];
    }

    [Theory]
    [InlineData("csharp")]
    [InlineData("python")]
    public async Task Workload_StoresServesListsAndDeletesBlocks_AndKeepsThemAcrossARestart(string workload)
    {
        var python = workload == "python";
        var keys = Path.Combine(_root, "key");
        var data = Path.Combine(_root, "data");
        Assert.Equal(HelloCid, Cid.Of(Multicodec.Raw, Hello).ToString());

        // A 262,145-byte file is two raw leaves (262,144 bytes and 1) under a dag-pb root, the last block.
        var content = new byte[UnixFsFile.ChunkSize + 1];
        for (var i = 0; i < content.Length; i++)
        {
            content[i] = (byte)(i * 31 % 251);
        }

        var file = UnixFsFile.Import(content);
        Assert.Equal(new[] { Multicodec.Raw, Multicodec.Raw, Multicodec.DagPb }, file.Select(b => b.Cid.Codec));
        Assert.StartsWith("bafy", file[^1].Cid.ToString(), StringComparison.Ordinal);
        var largest = RandomNumberGenerator.GetBytes(StorageProtocol.MaxBlockBytes);
        var largestCid = Cid.Of(Multicodec.Raw, largest).ToString();
        var stored = new Dictionary<string, byte[]>(StringComparer.Ordinal) { [HelloCid] = Hello, [largestCid] = largest };
        foreach (var block in file)
        {
            stored[block.Cid.ToString()] = block.Data;
        }

        var (process, endpoint) = await PythonWorkloadTests.StartAsync(python, VPodId, data, keys);
        await using (process)
        {
            // Stored once (201), then already there (204); served as it was sent, and on disk at blocks/{xy}/{cid}.
            Assert.Equal(HttpStatusCode.Created, (await PutAsync(endpoint, HelloCid, Hello)).Status);
            Assert.Equal(HttpStatusCode.NoContent, (await PutAsync(endpoint, HelloCid, Hello)).Status);
            await AssertServedAsync(endpoint, HelloCid, Hello);
            Assert.Equal(Hello, File.ReadAllBytes(BlockFile(keys, HelloCid)));

            foreach (var block in file)
            {
                Assert.Equal(HttpStatusCode.Created, (await PutAsync(endpoint, block.Cid.ToString(), block.Data)).Status);
            }

            await AssertServedAsync(endpoint, file[^1].Cid.ToString(), file[^1].Data);

            // The largest block is taken; one byte more is 413 and not stored.
            Assert.Equal(HttpStatusCode.Created, (await PutAsync(endpoint, largestCid, largest)).Status);
            var tooLarge = RandomNumberGenerator.GetBytes(StorageProtocol.MaxBlockBytes + 1);
            var tooLargeCid = Cid.Of(Multicodec.Raw, tooLarge).ToString();
            var (tooLargeStatus, tooLargeAnswer) = await PutAsync(endpoint, tooLargeCid, tooLarge);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLargeStatus);
            Assert.Contains($"{StorageProtocol.MaxBlockBytes}", ErrorOf(tooLargeAnswer), StringComparison.Ordinal);
            await AssertNotStoredAsync(endpoint, keys, tooLargeCid);

            // A body that does not hash to its CID: 400, and nothing is written.
            var otherCid = Cid.Of(Multicodec.Raw, "another block\n"u8).ToString();
            var (mismatch, mismatchAnswer) = await PutAsync(endpoint, otherCid, Hello);
            Assert.Equal(HttpStatusCode.BadRequest, mismatch);
            Assert.Contains("does not hash", ErrorOf(mismatchAnswer), StringComparison.Ordinal);
            await AssertNotStoredAsync(endpoint, keys, otherCid);

            // CIDv0, other bases, codecs, hashes and malformed CIDs: 400 naming the problem, for every method.
            foreach (var (cid, problem) in RefusedCids())
            {
                var (status, answer) = await PutAsync(endpoint, cid, Hello);
                Assert.True(status == HttpStatusCode.BadRequest, $"PUT {cid} answered {(int)status}: {answer}");
                Assert.Contains(problem, ErrorOf(answer), StringComparison.Ordinal);
                foreach (var method in new[] { HttpMethod.Get, HttpMethod.Delete })
                {
                    using var response = await _http.SendAsync(new HttpRequestMessage(method, BlockUri(endpoint, cid)));
                    var text = await response.Content.ReadAsStringAsync();
                    Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{method} {cid} answered {(int)response.StatusCode}: {text}");
                    Assert.Contains(problem, ErrorOf(text), StringComparison.Ordinal);
                }
            }

            Assert.Equal(Listing(stored), await ListAsync(endpoint));

            // Deleted: 204, then 404, and 204 again when it is no longer there.
            Assert.Equal(HttpStatusCode.NoContent, await DeleteAsync(endpoint, HelloCid));
            await AssertNotStoredAsync(endpoint, keys, HelloCid);
            Assert.Equal(HttpStatusCode.NoContent, await DeleteAsync(endpoint, HelloCid));
            stored.Remove(HelloCid);
            Assert.Equal(Listing(stored), await ListAsync(endpoint));

            process.Terminate();
            Assert.Equal(0, await process.WaitForExitAsync(ExitTimeout));
        }

        // The same workload over the same key directory, then the other one: the same blocks, listed and served.
        foreach (var restartPython in new[] { python, !python })
        {
            var (restarted, restartedEndpoint) = await PythonWorkloadTests.StartAsync(restartPython, VPodId, data, keys);
            await using (restarted)
            {
                Assert.Equal(Listing(stored), await ListAsync(restartedEndpoint));
                foreach (var (cid, bytes) in stored)
                {
                    await AssertServedAsync(restartedEndpoint, cid, bytes);
                }

                Assert.Equal(HttpStatusCode.NoContent, (await PutAsync(restartedEndpoint, file[^1].Cid.ToString(), file[^1].Data)).Status);
                await AssertNotStoredAsync(restartedEndpoint, keys, HelloCid);
            }
        }
    }

    private static string Base32Cid(byte[] bytes) => "b" + Base32.Encode(bytes);

    private static Uri BlockUri(Uri endpoint, string cid) => new(endpoint, StorageProtocol.BlockPath(cid));

    private static string BlockFile(string keys, string cid) => Path.Combine(keys, "blocks", cid[^3..^1], cid);

    private static List<(string Cid, long Size)> Listing(Dictionary<string, byte[]> blocks) =>
        [.. blocks.Select(b => (b.Key, (long)b.Value.Length)).OrderBy(b => b.Key, StringComparer.Ordinal)];

    private static string ErrorOf(string answer)
    {
        var error = JsonNode.Parse(answer)?["error"];
        Assert.True(error?.GetValueKind() == JsonValueKind.String, $"the answer has no error text: {answer}");
        return (string)error!;
    }

    private async Task<(HttpStatusCode Status, string Answer)> PutAsync(Uri endpoint, string cid, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(StorageProtocol.BlockMediaType);
        using var response = await _http.PutAsync(BlockUri(endpoint, cid), content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<HttpStatusCode> DeleteAsync(Uri endpoint, string cid)
    {
        using var response = await _http.DeleteAsync(BlockUri(endpoint, cid));
        return response.StatusCode;
    }

    private async Task AssertServedAsync(Uri endpoint, string cid, byte[] expected)
    {
        using var response = await _http.GetAsync(BlockUri(endpoint, cid));
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {cid} answered {(int)response.StatusCode}");
        Assert.Equal(StorageProtocol.BlockMediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(expected, await response.Content.ReadAsByteArrayAsync());
    }

    private async Task AssertNotStoredAsync(Uri endpoint, string keys, string cid)
    {
        using var response = await _http.GetAsync(BlockUri(endpoint, cid));
        var answer = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"GET {cid} answered {(int)response.StatusCode}: {answer}");
        Assert.Contains(cid, ErrorOf(answer), StringComparison.Ordinal);
        Assert.False(File.Exists(BlockFile(keys, cid)), $"{cid} is on disk");
    }

    private async Task<List<(string Cid, long Size)>> ListAsync(Uri endpoint)
    {
        using var response = await _http.GetAsync(new Uri(endpoint, StorageProtocol.BlocksPath));
        var answer = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {StorageProtocol.BlocksPath} answered {(int)response.StatusCode}: {answer}");
        var list = JsonSerializer.Deserialize(answer, WorkloadJson.Default.BlockListResponse)!;
        Assert.Equal(VPodId, list.VPodId);
        return [.. list.Blocks.Select(b => (b.Cid, b.Size))];
    }
}
