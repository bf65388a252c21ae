using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MetaNode.Proofs;

namespace MetaNode.Client.Proofs;

/// <summary>An Ethereum node's JSON-RPC as a proof verifier reads it (plain HTTP POSTs; no wallet, no archive calls).</summary>
public sealed class JsonRpcProofChain(HttpClient http, Uri endpoint) : IProofChain
{
    private int _id;

    public async Task<long> GetChainIdAsync(CancellationToken cancellationToken) =>
        Quantity(await CallRpcAsync("eth_chainId", [], cancellationToken), "eth_chainId");

    public async Task<byte[]> GetCodeAsync(string address, CancellationToken cancellationToken) =>
        Bytes(await CallRpcAsync("eth_getCode", [address, "latest"], cancellationToken), "eth_getCode");

    public async Task<ProofTransactionReceipt?> GetTransactionReceiptAsync(string transactionHash, CancellationToken cancellationToken)
    {
        if (await CallRpcAsync("eth_getTransactionReceipt", [transactionHash], cancellationToken) is not JsonObject receipt)
        {
            return null;
        }

        return new ProofTransactionReceipt(
            Lower(receipt["transactionHash"]) ?? transactionHash,
            Quantity(receipt["status"], "status") == 1,
            Lower(receipt["to"]),
            Lower(receipt["contractAddress"]),
            Quantity(receipt["blockNumber"], "blockNumber"),
            Lower(receipt["blockHash"]) ?? string.Empty,
            [.. (receipt["logs"] as JsonArray ?? []).Select(Log)]);
    }

    public async Task<string?> GetBlockHashAsync(long number, CancellationToken cancellationToken) =>
        await CallRpcAsync("eth_getBlockByNumber", [Hex(number), false], cancellationToken) is JsonObject block ? Lower(block["hash"]) : null;

    public async Task<IReadOnlyList<ProofLog>> GetLogsAsync(string address, string topic0, long fromBlock, long toBlock, CancellationToken cancellationToken)
    {
        var filter = new JsonObject
        {
            ["address"] = address,
            ["topics"] = new JsonArray(topic0),
            ["fromBlock"] = Hex(fromBlock),
            ["toBlock"] = Hex(toBlock),
        };
        var logs = await CallRpcAsync("eth_getLogs", [filter], cancellationToken) as JsonArray
            ?? throw new InvalidDataException("eth_getLogs answered no array.");
        return [.. logs.Where(l => l?["removed"]?.GetValue<bool>() != true).Select(Log)];
    }

    public async Task<byte[]> CallAsync(string to, byte[] data, CancellationToken cancellationToken) =>
        Bytes(await CallRpcAsync("eth_call", [new JsonObject { ["to"] = to, ["data"] = "0x" + Convert.ToHexStringLower(data) }, "latest"], cancellationToken), "eth_call");

    private async Task<JsonNode?> CallRpcAsync(string method, JsonArray parameters, CancellationToken cancellationToken)
    {
        var request = new JsonObject
        {
            ["jsonrpc"] = "2.0",
            ["id"] = Interlocked.Increment(ref _id),
            ["method"] = method,
            ["params"] = parameters,
        };
        using var response = await http.PostAsJsonAsync(endpoint, request, cancellationToken);
        response.EnsureSuccessStatusCode();
        var answer = await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken)
            ?? throw new InvalidDataException($"{method}: the node answered no JSON object.");
        if (answer["error"] is JsonObject error)
        {
            throw new InvalidDataException($"{method}: the node answered error {error["code"]}: {error["message"]}");
        }

        return answer["result"];
    }

    private static ProofLog Log(JsonNode? node)
    {
        var log = node as JsonObject ?? throw new InvalidDataException("a log is not a JSON object.");
        return new ProofLog(
            Lower(log["address"]) ?? string.Empty,
            [.. (log["topics"] as JsonArray ?? []).Select(t => Lower(t) ?? string.Empty)],
            Bytes(log["data"], "log data"),
            Quantity(log["blockNumber"], "log blockNumber"),
            Quantity(log["logIndex"], "log logIndex"),
            Lower(log["transactionHash"]) ?? string.Empty);
    }

    private static string? Lower(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text.ToLowerInvariant() : null;

    private static long Quantity(JsonNode? node, string what) =>
        Lower(node) is { } text && text.StartsWith("0x", StringComparison.Ordinal)
            && long.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value) && value >= 0
            ? value
            : throw new InvalidDataException($"{what}: the node answered '{node?.ToJsonString()}', not a hex quantity.");

    private static byte[] Bytes(JsonNode? node, string what)
    {
        try
        {
            return Lower(node) is { } text && text.StartsWith("0x", StringComparison.Ordinal)
                ? Convert.FromHexString(text.AsSpan(2))
                : throw new InvalidDataException($"{what}: the node answered '{node?.ToJsonString()}', not hex data.");
        }
        catch (FormatException)
        {
            throw new InvalidDataException($"{what}: the node answered '{node?.ToJsonString()}', not hex data.");
        }
    }

    private static string Hex(long value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);
}
