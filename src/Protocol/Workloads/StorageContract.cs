using System.Text.Json.Serialization;

namespace MetaNode.Workloads;

/// <summary>
/// The workload protocol's block store (<c>examples/workload-protocol.md</c>, "Blocks"): a storage vPod keeps content-addressed
/// blocks on its own volume. <c>PUT /v2/blocks/{cid}</c> stores the body when it hashes to the CID (400 otherwise, 413 above
/// <see cref="MaxBlockBytes"/>), <c>GET</c> answers the bytes or 404, <c>DELETE</c> removes it (204 either way), and
/// <c>GET /v2/blocks</c> lists what it holds.
/// </summary>
public static class StorageProtocol
{
    public const string BlocksPath = "/v2/blocks";
    public const string BlockRoute = BlocksPath + "/{cid}";

    /// <summary>The largest block a storage vPod takes: 1 MiB, the IPFS block limit (a MetaNode leaf is 256 KiB).</summary>
    public const int MaxBlockBytes = 1024 * 1024;

    public const string BlockMediaType = "application/vnd.ipld.raw";

    public static string BlockPath(string cid) => BlocksPath + "/" + cid;
}

public sealed record StoredBlockDto(
    [property: JsonPropertyName("cid")] string Cid,
    [property: JsonPropertyName("size")] long Size);

public sealed record BlockListResponse(
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("blocks")] StoredBlockDto[] Blocks);
