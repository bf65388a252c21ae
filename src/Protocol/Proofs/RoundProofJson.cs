using System.Globalization;
using System.Text;
using System.Text.Json;
using MetaNode.Storage;

namespace MetaNode.Proofs;

/// <summary>
/// The bundle's JSON (<c>examples/round-proof.md</c>): <see cref="Write"/> gives indented UTF-8; <see cref="Parse"/> takes exactly
/// that layout — every required member, no other member at any level, lower-case hex of the right length, decimal strings without
/// sign or leading zeros, the sort orders — and throws <see cref="RoundProofFormatException"/> naming the first thing that is not.
/// </summary>
public static class RoundProofJson
{
    private static readonly string[] TopMembers =
        ["format", "chainId", "registry", "job", "round", "resultHash", "receiptsRoot", "modelRef", "modelCid", "transaction", "validators", "receipts"];

    /// <summary>The largest integer every JSON reader holds exactly (2^53 - 1); larger integers are written as decimal strings.</summary>
    private const long MaxSafeInteger = 9_007_199_254_740_991;

    public static byte[] Write(RoundProof proof)
    {
        ArgumentNullException.ThrowIfNull(proof);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("format", RoundProof.FormatName);
            json.WriteString("chainId", Decimal(proof.ChainId));
            json.WriteString("registry", proof.Registry);
            json.WriteString("job", proof.Job);
            json.WriteNumber("round", proof.Round);
            json.WriteString("resultHash", proof.ResultHash);
            json.WriteString("receiptsRoot", proof.ReceiptsRoot);
            json.WriteString("modelRef", proof.ModelRef);
            json.WriteString("modelCid", proof.ModelCid);
            json.WriteStartObject("transaction");
            json.WriteString("hash", proof.Transaction.Hash);
            json.WriteString("blockNumber", Decimal(proof.Transaction.BlockNumber));
            json.WriteString("blockHash", proof.Transaction.BlockHash);
            json.WriteEndObject();
            json.WriteStartArray("validators");
            foreach (var validator in proof.Validators)
            {
                json.WriteStartObject();
                json.WriteString("address", validator.Address);
                json.WriteString("signature", validator.Signature);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartArray("receipts");
            foreach (var receipt in proof.Receipts)
            {
                json.WriteStartObject();
                json.WriteString("vpod", receipt.VPod);
                json.WriteString("address", receipt.Address);
                json.WriteString("sampleCount", Decimal(receipt.SampleCount));
                json.WriteString("updateHash", receipt.UpdateHash);
                json.WriteString("signature", receipt.Signature);
                json.WriteStartArray("branch");
                foreach (var sibling in receipt.Branch)
                {
                    json.WriteStringValue(sibling);
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            if (proof.ModelCar is { } car)
            {
                json.WriteStartObject("model");
                json.WriteString("car", Convert.ToBase64String(car));
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    public static RoundProof Parse(ReadOnlySpan<byte> utf8)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8.ToArray(), new JsonDocumentOptions { MaxDepth = 8, AllowDuplicateProperties = false });
        }
        catch (JsonException exception)
        {
            throw new RoundProofFormatException($"the bundle is not JSON: {exception.Message}");
        }

        using (document)
        {
            var top = Members(document.RootElement, "bundle", TopMembers, "model");
            var format = Text(top["format"], "format");
            if (format != RoundProof.FormatName)
            {
                throw new RoundProofFormatException($"format is '{format}'; this verifier reads '{RoundProof.FormatName}'.");
            }

            var transaction = Members(top["transaction"], "transaction", ["hash", "blockNumber", "blockHash"]);
            return new RoundProof
            {
                ChainId = DecimalValue(top["chainId"], "chainId"),
                Registry = Hex(top["registry"], "registry", 20),
                Job = Job(top["job"]),
                Round = RoundValue(top["round"]),
                ResultHash = Hex(top["resultHash"], "resultHash", 32),
                ReceiptsRoot = Hex(top["receiptsRoot"], "receiptsRoot", 32),
                ModelRef = Hex(top["modelRef"], "modelRef", 32),
                ModelCid = ModelCid(top["modelCid"]),
                Transaction = new ProofTransaction(
                    Hex(transaction["hash"], "transaction.hash", 32),
                    DecimalValue(transaction["blockNumber"], "transaction.blockNumber"),
                    Hex(transaction["blockHash"], "transaction.blockHash", 32)),
                Validators = Validators(top["validators"]),
                Receipts = Receipts(top["receipts"]),
                ModelCar = top.TryGetValue("model", out var model) ? Car(model) : null,
            };
        }
    }

    private static List<ProofSignature> Validators(JsonElement element)
    {
        var items = Items(element, "validators");
        var validators = new List<ProofSignature>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var path = $"validators[{i}]";
            var members = Members(items[i], path, ["address", "signature"]);
            var validator = new ProofSignature(Hex(members["address"], path + ".address", 20), Hex(members["signature"], path + ".signature", 65));
            if (i > 0 && string.CompareOrdinal(validators[^1].Address, validator.Address) >= 0)
            {
                throw new RoundProofFormatException($"{path}.address must be greater than the one before it (sorted ascending, distinct).");
            }

            validators.Add(validator);
        }

        return validators;
    }

    private static List<ProofReceipt> Receipts(JsonElement element)
    {
        var items = Items(element, "receipts");
        var receipts = new List<ProofReceipt>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var path = $"receipts[{i}]";
            var members = Members(items[i], path, ["vpod", "address", "sampleCount", "updateHash", "signature", "branch"]);
            var vpod = Text(members["vpod"], path + ".vpod");
            if (vpod.Length == 0)
            {
                throw new RoundProofFormatException($"{path}.vpod must not be empty.");
            }

            if (i > 0 && string.CompareOrdinal(receipts[^1].VPod, vpod) >= 0)
            {
                throw new RoundProofFormatException($"{path}.vpod must sort after the one before it (ordinal, distinct).");
            }

            if (members["branch"].ValueKind != JsonValueKind.Array)
            {
                throw new RoundProofFormatException($"{path}.branch must be an array of 32-byte hashes.");
            }

            var branch = members["branch"].EnumerateArray().Select((s, j) => Hex(s, $"{path}.branch[{j}]", 32)).ToList();
            receipts.Add(new ProofReceipt(
                vpod,
                Hex(members["address"], path + ".address", 20),
                DecimalValue(members["sampleCount"], path + ".sampleCount"),
                Hex(members["updateHash"], path + ".updateHash", 32),
                Hex(members["signature"], path + ".signature", 65),
                branch));
        }

        return receipts;
    }

    private static byte[] Car(JsonElement element)
    {
        var members = Members(element, "model", ["car"]);
        var text = Text(members["car"], "model.car");
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            throw new RoundProofFormatException("model.car must be base64.");
        }

        if (bytes.Length == 0 || Convert.ToBase64String(bytes) != text)
        {
            throw new RoundProofFormatException("model.car must be non-empty, canonical base64 (padded, no whitespace).");
        }

        return bytes;
    }

    private static Dictionary<string, JsonElement> Members(JsonElement element, string path, string[] required, params string[] optional)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new RoundProofFormatException($"{path} must be a JSON object.");
        }

        var members = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
        {
            if (!required.Contains(property.Name, StringComparer.Ordinal) && !optional.Contains(property.Name, StringComparer.Ordinal))
            {
                throw new RoundProofFormatException($"{path} has an unknown member '{property.Name}'.");
            }

            members[property.Name] = property.Value;
        }

        foreach (var name in required)
        {
            if (!members.ContainsKey(name))
            {
                throw new RoundProofFormatException($"{path} lacks the member '{name}'.");
            }
        }

        return members;
    }

    private static List<JsonElement> Items(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Array || element.GetArrayLength() == 0)
        {
            throw new RoundProofFormatException($"{path} must be a non-empty array.");
        }

        return [.. element.EnumerateArray()];
    }

    private static string Text(JsonElement element, string path) =>
        element.ValueKind == JsonValueKind.String ? element.GetString()! : throw new RoundProofFormatException($"{path} must be a string.");

    private static string Hex(JsonElement element, string path, int bytes)
    {
        var text = Text(element, path);
        if (text.Length != 2 + 2 * bytes || !text.StartsWith("0x", StringComparison.Ordinal) || !text.AsSpan(2).ContainsOnlyLowerHex())
        {
            throw new RoundProofFormatException($"{path} must be 0x and {2 * bytes} lower-case hex digits ({bytes} bytes).");
        }

        return text;
    }

    private static bool ContainsOnlyLowerHex(this ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
            {
                return false;
            }
        }

        return true;
    }

    private static long DecimalValue(JsonElement element, string path)
    {
        var text = Text(element, path);
        if (!IsDecimal(text) || !long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            throw new RoundProofFormatException($"{path} must be a decimal string (digits only, no leading zeros) of at most 2^63 - 1.");
        }

        return value;
    }

    private static long RoundValue(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Number || !IsDecimal(element.GetRawText()) || !element.TryGetInt64(out var round) || round > MaxSafeInteger)
        {
            throw new RoundProofFormatException("round must be a JSON integer from 0 to 2^53 - 1.");
        }

        return round;
    }

    private static bool IsDecimal(string text) =>
        text.Length is > 0 and <= 20 && text.All(char.IsAsciiDigit) && (text.Length == 1 || text[0] != '0');

    private static string Job(JsonElement element)
    {
        var job = Text(element, "job");
        var length = Encoding.UTF8.GetByteCount(job);
        if (length is 0 or > 32 || job.Contains('\0', StringComparison.Ordinal))
        {
            throw new RoundProofFormatException("job must be 1 to 32 bytes of UTF-8 without NUL (the registry's bytes32 job id).");
        }

        return job;
    }

    private static string ModelCid(JsonElement element)
    {
        var text = Text(element, "modelCid");
        if (!Cid.TryParse(text, out var cid, out var error) || cid is null)
        {
            throw new RoundProofFormatException($"modelCid is not a CIDv1: {error}");
        }

        if (cid.Codec is not (Multicodec.Raw or Multicodec.DagPb) || cid.ToString() != text)
        {
            throw new RoundProofFormatException("modelCid must be a raw or dag-pb CIDv1 in its canonical base32 text.");
        }

        return text;
    }

    private static string Decimal(long value) => value.ToString(CultureInfo.InvariantCulture);
}
