using System.Text;
using System.Text.Json.Nodes;
using MetaNode.Proofs;
using MetaNode.Storage;

namespace MetaNode.Tests.Proofs;

/// <summary>The bundle's exact layout: what <see cref="RoundProofJson.Write"/> gives, <see cref="RoundProofJson.Parse"/> takes back, and nothing else.</summary>
public sealed class RoundProofJsonTests
{
    private static readonly RoundProof Sample = new()
    {
        ChainId = 31337,
        Registry = "0x5fbdb2315678afecb367f032d93f642f64180aa3",
        Job = "job-7",
        Round = 2,
        ResultHash = "0x" + new string('a', 64),
        ReceiptsRoot = "0x" + new string('b', 64),
        ModelRef = "0x" + new string('c', 64),
        ModelCid = UnixFsFile.ComputeCid("model"u8).ToString(),
        Transaction = new ProofTransaction("0x" + new string('d', 64), 9_007_199_254_740_993, "0x" + new string('e', 64)),
        Validators = [new ProofSignature("0x" + new string('1', 40), "0x" + new string('2', 128) + "1b"), new ProofSignature("0x" + new string('3', 40), "0x" + new string('4', 128) + "1c")],
        Receipts =
        [
            new ProofReceipt("compute-1", "0x" + new string('5', 40), 120, "0x" + new string('6', 64), "0x" + new string('7', 128) + "1b", ["0x" + new string('8', 64)]),
            new ProofReceipt("compute-2", "0x" + new string('9', 40), 80, "0x" + new string('f', 64), "0x" + new string('0', 128) + "1c", []),
        ],
        ModelCar = [1, 2, 3],
    };

    [Fact]
    public void WriteThenParse_GivesTheSameProof_WithLargeIntegersAsDecimalStrings()
    {
        var bytes = RoundProofJson.Write(Sample);
        var parsed = RoundProofJson.Parse(bytes);

        Assert.Equal(Sample with { Validators = [], Receipts = [], ModelCar = null }, parsed with { Validators = [], Receipts = [], ModelCar = null });
        Assert.Equal(Sample.Validators, parsed.Validators);
        Assert.Equal(Sample.Receipts.Select(r => r with { Branch = [] }), parsed.Receipts.Select(r => r with { Branch = [] }));
        Assert.Equal(Sample.Receipts.SelectMany(r => r.Branch), parsed.Receipts.SelectMany(r => r.Branch));
        Assert.Equal(Sample.ModelCar, parsed.ModelCar);
        var json = JsonNode.Parse(bytes)!;
        Assert.Equal("9007199254740993", json["transaction"]!["blockNumber"]!.GetValue<string>());
        Assert.Equal("31337", json["chainId"]!.GetValue<string>());
        Assert.Equal(2, json["round"]!.GetValue<int>());
        Assert.Equal(bytes, RoundProofJson.Write(parsed));
    }

    [Fact]
    public void AProofWithoutItsModel_HasNoModelMember()
    {
        var bytes = RoundProofJson.Write(Sample with { ModelCar = null });
        Assert.Null(JsonNode.Parse(bytes)!["model"]);
        Assert.Null(RoundProofJson.Parse(bytes).ModelCar);
    }

    [Theory]
    [InlineData("not json", "not JSON")]
    [InlineData("""{"format":"metanode-round-proof/2"}""", "lacks the member")]
    [InlineData("top:extra", "unknown member 'extra'")]
    [InlineData("top:duplicate", "not JSON")]
    [InlineData("format:metanode-round-proof/2", "this verifier reads")]
    [InlineData("chainId:031337", "decimal string")]
    [InlineData("chainId:-1", "decimal string")]
    [InlineData("chainId:99999999999999999999", "decimal string")]
    [InlineData("round:\"2\"", "JSON integer")]
    [InlineData("round:2.0", "JSON integer")]
    [InlineData("round:-1", "JSON integer")]
    [InlineData("round:9007199254740992", "2^53 - 1")]
    [InlineData("round:2e0", "JSON integer")]
    [InlineData("registry:0x5FBDB2315678afecb367f032d93f642f64180aa3", "lower-case hex")]
    [InlineData("resultHash:0xaa", "64 lower-case hex")]
    [InlineData("job:", "1 to 32 bytes")]
    [InlineData("job:a-job-id-that-is-longer-than-32-bytes", "1 to 32 bytes")]
    [InlineData("modelCid:QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "not a CIDv1")]
    [InlineData("validators:unsorted", "sorted ascending")]
    [InlineData("validators:empty", "non-empty array")]
    [InlineData("receipts:unsorted", "sort after")]
    [InlineData("receipts:extra", "unknown member 'weight'")]
    [InlineData("model:whitespace", "canonical base64")]
    [InlineData("transaction:extra", "unknown member 'gas'")]
    public void Parse_RefusesAnythingButTheLayout_NamingWhatIsWrong(string change, string message)
    {
        var text = change switch
        {
            "not json" => "{ not json",
            _ when change.StartsWith('{') => change,
            _ => Changed(change),
        };

        var refusal = Assert.Throws<RoundProofFormatException>(() => RoundProofJson.Parse(Encoding.UTF8.GetBytes(text)));
        Assert.Contains(message, refusal.Message, StringComparison.Ordinal);
    }

    private static string Changed(string change)
    {
        var json = JsonNode.Parse(RoundProofJson.Write(Sample))!.AsObject();
        var (member, value) = (change[..change.IndexOf(':', StringComparison.Ordinal)], change[(change.IndexOf(':', StringComparison.Ordinal) + 1)..]);
        switch (member, value)
        {
            case ("top", "extra"):
                json["extra"] = 1;
                break;
            case ("top", "duplicate"):
                return json.ToJsonString().Replace("\"job\":", "\"job\":\"a\",\"job\":", StringComparison.Ordinal);
            case ("round", _):
                return json.ToJsonString().Replace("\"round\":2", "\"round\":" + value, StringComparison.Ordinal);
            case ("validators", "unsorted"):
                var validators = json["validators"]!.AsArray();
                var first = validators[0]!.DeepClone();
                validators.RemoveAt(0);
                validators.Add(first);
                break;
            case ("validators", "empty"):
                json["validators"] = new JsonArray();
                break;
            case ("receipts", "unsorted"):
                json["receipts"]![1]!["vpod"] = "compute-0";
                break;
            case ("receipts", "extra"):
                json["receipts"]![0]!["weight"] = "1";
                break;
            case ("transaction", "extra"):
                json["transaction"]!["gas"] = "1";
                break;
            case ("model", "whitespace"):
                json["model"]!["car"] = "AQID\n";
                break;
            default:
                json[member] = value;
                break;
        }

        return json.ToJsonString();
    }
}
