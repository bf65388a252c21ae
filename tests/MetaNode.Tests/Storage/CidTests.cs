using System.Text;
using MetaNode.Storage;

namespace MetaNode.Tests.Storage;

public sealed class CidTests
{
    private const string HelloVpod = "bafkreicep5galetmxyayynxibzbzrz24kkq2zv3dzaec6pg6p4zwg2bgsm";

    [Fact]
    public void Of_GivesTheKnownRawCid_ForHelloVpod()
    {
        var cid = Cid.Of(Multicodec.Raw, Encoding.ASCII.GetBytes("hello vpod\n"));

        Assert.Equal(HelloVpod, cid.ToString());
        Assert.Equal(Multicodec.Raw, cid.Codec);
        Assert.Equal(Convert.FromHexString("01551220"), cid.ToBytes()[..4]);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(Encoding.ASCII.GetBytes("hello vpod\n")), cid.Digest.ToArray());
    }

    [Fact]
    public void Of_GivesTheEmptyBlocksKnownCids_ForBothCodecs()
    {
        Assert.Equal("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", Cid.Of(Multicodec.Raw, []).ToString());
        Assert.Equal("bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", Cid.Of(Multicodec.DagPb, []).ToString());
    }

    [Fact]
    public void Parse_RoundTripsTextAndBinary_WhenTheCidIsValid()
    {
        foreach (var codec in new[] { Multicodec.Raw, Multicodec.DagPb })
        {
            var cid = Cid.Of(codec, [1, 2, 3]);

            var parsed = Cid.Parse(cid.ToString());
            var read = Cid.Read([.. cid.ToBytes(), 0xff], out var consumed);

            Assert.Equal(cid, parsed);
            Assert.Equal(cid, read);
            Assert.Equal(cid.GetHashCode(), parsed.GetHashCode());
            Assert.Equal(cid.ToString(), read.ToString());
            Assert.Equal(36, consumed);
            Assert.True(parsed.Verifies([1, 2, 3]));
            Assert.False(parsed.Verifies([1, 2, 4]));
        }

        Assert.NotEqual(Cid.Of(Multicodec.Raw, [1]), Cid.Of(Multicodec.DagPb, [1]));
        Assert.Equal(HelloVpod, Cid.Parse(HelloVpod).ToString());
    }

    [Theory]
    [InlineData(null, "cannot be empty")]
    [InlineData("", "cannot be empty")]
    [InlineData("QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u", "CIDv0 is not supported; use the CIDv1 form (ipfs cid format -v 1 -b base32)")]
    [InlineData("zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA", "multibase prefix 'z'")]
    [InlineData("BAFKREICEP5GALETMXYAYYNXIBZBZRZ24KKQ2ZV3DZAEC6PG6P4ZWG2BGSM", "multibase prefix 'B'")]
    [InlineData("bafkreicep5galetmxyayynxibzbzrz24kkq2zv3dzaec6pg6p4zwg2bgsM", "not a lower-case base32 character")]
    [InlineData("bafkreicep5galetmxyayynxibzbzrz24kkq2zv3dzaec6pg6p4zwg2bg", "digest is truncated (31 of 32 bytes)")]
    [InlineData("bafkreicep5galetmxyayynxibzbzrz24kkq2zv3dzaec6pg6p4zwg2bgs", "cannot encode whole bytes")]
    public void Parse_RefusesWithAClearMessage_WhenTheTextIsNotASupportedCid(string? text, string message)
    {
        Assert.False(Cid.TryParse(text, out var cid, out var error));
        Assert.Null(cid);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Contains(message, Assert.Throws<FormatException>(() => Cid.Parse(text!)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0171", "codec 0x71 is not supported; only raw (0x55) and dag-pb (0x70)")]
    [InlineData("01a902", "codec 0x129 is not supported")]
    [InlineData("0255", "CID version 2 is not supported")]
    public void Parse_RefusesOtherVersionsAndCodecs(string prefixHex, string message)
    {
        var bytes = Convert.FromHexString(prefixHex + "1220" + new string('a', 64));

        Assert.Contains(message, Assert.Throws<FormatException>(() => Cid.Parse(Text(bytes))).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1320", "multihash 0x13 is not supported; only sha2-256 (0x12)")]
    [InlineData("a0e40220", "multihash 0xb220 is not supported")]
    public void Parse_RefusesOtherHashFunctions(string multihashPrefixHex, string message)
    {
        var bytes = Convert.FromHexString("0155" + multihashPrefixHex + new string('a', 64));

        Assert.Contains(message, Assert.Throws<FormatException>(() => Cid.Parse(Text(bytes))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_RefusesOtherDigestLengthsTrailingBytesAndBinaryCidV0()
    {
        var cid = Cid.Of(Multicodec.Raw, [7]).ToBytes();
        var shortDigest = Convert.FromHexString("01551214" + new string('b', 40));

        Assert.Contains("of 20 bytes is not supported", Assert.Throws<FormatException>(() => Cid.Parse(Text(shortDigest))).Message, StringComparison.Ordinal);
        Assert.Contains("1 trailing bytes", Assert.Throws<FormatException>(() => Cid.Parse(Text([.. cid, 0]))).Message, StringComparison.Ordinal);
        Assert.Contains("digest is truncated", Assert.Throws<FormatException>(() => Cid.Parse(Text(cid[..^1]))).Message, StringComparison.Ordinal);
        Assert.Contains("CIDv0 is not supported", Assert.Throws<FormatException>(() => Cid.Read(cid[2..], out _)).Message, StringComparison.Ordinal);
        Assert.Contains("not minimally encoded", Assert.Throws<FormatException>(() => Cid.Read(Convert.FromHexString("01d5001220" + new string('c', 64)), out _)).Message, StringComparison.Ordinal);
    }

    /// <summary>Base32 text of arbitrary bytes, built without the code under test.</summary>
    private static string Text(byte[] bytes)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        var text = new StringBuilder("b");
        var bits = string.Concat(bytes.Select(b => Convert.ToString(b, 2).PadLeft(8, '0')));
        for (var i = 0; i < bits.Length; i += 5)
        {
            text.Append(alphabet[Convert.ToInt32(bits.Substring(i, Math.Min(5, bits.Length - i)).PadRight(5, '0'), 2)]);
        }

        return text.ToString();
    }
}
