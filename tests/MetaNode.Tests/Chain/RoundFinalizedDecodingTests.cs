using MetaNode.Chain;
using MetaNode.Grains.Chain;
using MetaNode.Storage;
using Nethereum.Hex.HexTypes;
using Nethereum.RPC.Eth.DTOs;

namespace MetaNode.Tests.Chain;

/// <summary>
/// The RoundFinalized log's data as the silo reads it (RegistryClient and the chain watcher): three words and the dynamic
/// <c>bytes modelCid</c>, laid out here word by word; anything not laid out exactly as the contract emits it is refused.
/// </summary>
public sealed class RoundFinalizedDecodingTests
{
    private static readonly string ResultHash = "0x" + new string('1', 64);
    private static readonly string ReceiptsRoot = "0x" + new string('2', 64);

    private static readonly byte[] Model = "a model of one chunk"u8.ToArray();

    private static string ModelRef => HexValues.ToHex(System.Security.Cryptography.SHA256.HashData(Model));

    [Fact]
    public void Decode_ReadsTheThreeWordsAndTheCid()
    {
        var cid = UnixFsFile.ComputeCid(Model);
        var fields = RegistryClient.DecodeRoundFinalizedData(Data(cid.ToBytes()));
        Assert.Equal(new RoundFinalizedData(ResultHash, ReceiptsRoot, ModelRef, cid.ToString()), fields);

        var large = UnixFsFile.ComputeCid(new byte[UnixFsFile.ChunkSize + 1]);
        Assert.Equal(Multicodec.DagPb, large.Codec);
        Assert.Equal(large.ToString(), RegistryClient.DecodeRoundFinalizedData(Data(large.ToBytes()))!.ModelCid);
    }

    [Fact]
    public void Decode_ReadsAnEmptyCid_AsNone()
    {
        Assert.Equal(new RoundFinalizedData(ResultHash, ReceiptsRoot, ModelRef, string.Empty), RegistryClient.DecodeRoundFinalizedData(Data([])));
    }

    [Theory]
    [InlineData("the old three-word event")]
    [InlineData("another offset")]
    [InlineData("an offset past the data")]
    [InlineData("a length past the data")]
    [InlineData("a huge length")]
    [InlineData("a trailing word")]
    [InlineData("a missing padding word")]
    [InlineData("non-zero padding")]
    [InlineData("bytes that are not a CID")]
    [InlineData("a CID and a byte more")]
    public void Decode_RefusesMalformedData(string which)
    {
        byte[] cid = [0x01, 0x55, 0x12, 0x20, .. System.Security.Cryptography.SHA256.HashData(Model)];
        var data = which switch
        {
            "the old three-word event" => Data(cid)[..96],
            "another offset" => With(Data(cid), 96, Word(0xa0)),
            "an offset past the data" => With(Data(cid), 96, Word(0x1000)),
            "a length past the data" => With(Data(cid), 128, Word(65)),
            "a huge length" => With(Data(cid), 128, [.. Enumerable.Repeat((byte)0xff, 32)]),
            "a trailing word" => [.. Data(cid), .. new byte[32]],
            "a missing padding word" => Data(cid)[..^32],
            "non-zero padding" => With(Data(cid), Data(cid).Length - 1, [0x01]),
            "bytes that are not a CID" => Data([0x01, 0x71, 0x12, 0x20, .. new byte[32]]),
            "a CID and a byte more" => Data([.. cid, 0x00]),
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };

        Assert.Null(RegistryClient.DecodeRoundFinalizedData(data));
        Assert.Null(ChainWatcherGrain.Decode("0xr", Log(data)));
    }

    [Fact]
    public void Watcher_DecodesTheEventWithItsCid()
    {
        var cid = UnixFsFile.ComputeCid(Model);
        var decoded = ChainWatcherGrain.Decode("0xr", Log(Data(cid.ToBytes())));
        Assert.NotNull(decoded);
        Assert.Equal(("job-decode", 7L, ModelRef, cid.ToString()), (decoded.JobId, decoded.Round, decoded.ModelRef, decoded.ModelCid));
    }

    /// <summary>resultHash, receiptsRoot, modelRef, offset 0x80, length, the bytes right-padded to a whole word.</summary>
    private static byte[] Data(byte[] cid)
    {
        var padded = new byte[(cid.Length + 31) / 32 * 32];
        cid.CopyTo(padded, 0);
        return [.. HexValues.ParseBytes32(ResultHash, "r"), .. HexValues.ParseBytes32(ReceiptsRoot, "r"), .. HexValues.ParseBytes32(ModelRef, "m"), .. Word(0x80), .. Word(cid.Length), .. padded];
    }

    private static byte[] Word(long value)
    {
        var word = new byte[32];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(word.AsSpan(24), value);
        return word;
    }

    private static byte[] With(byte[] data, int offset, byte[] bytes)
    {
        var copy = data.ToArray();
        bytes.CopyTo(copy, offset);
        return copy;
    }

    private static FilterLog Log(byte[] data) => new()
    {
        Address = "0xr",
        Data = HexValues.ToHex(data),
        Topics = [RegistryClient.RoundFinalizedTopic, HexValues.ToHex(HexValues.JobIdToBytes32("job-decode")), "0x" + new string('0', 63) + "7"],
        BlockNumber = new HexBigInteger(5),
        BlockHash = "0xb5",
        TransactionHash = "0xt5",
        LogIndex = new HexBigInteger(0),
    };
}
