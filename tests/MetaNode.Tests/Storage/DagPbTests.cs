using MetaNode.Storage;

namespace MetaNode.Tests.Storage;

public sealed class DagPbTests
{
    private static readonly Cid Leaf = Cid.Of(Multicodec.Raw, [1, 2, 3]);

    [Fact]
    public void EncodeFileNode_WritesLinksBeforeDataWithEmptyNamesAndSizes_AsTheJsImporterDoes()
    {
        var node = DagPb.EncodeFileNode([new DagLink(Leaf, string.Empty, 3)], [3]);

        var expected = Convert.FromHexString("122a" + "0a24" + Convert.ToHexString(Leaf.ToBytes()) + "1200" + "1803" + "0a06" + "0802" + "1803" + "2003");
        Assert.Equal(expected, node);
        var link = Assert.Single(DagPb.ReadLinks(node));
        Assert.Equal(new DagLink(Leaf, string.Empty, 3), link);
        var data = DagPb.ReadUnixFs(node);
        Assert.Equal(UnixFsData.FileType, data.Type);
        Assert.Equal(3UL, data.FileSize);
        Assert.Equal([3UL], data.BlockSizes);
        Assert.True(data.Data.IsEmpty);
        Assert.Equal([Leaf], DagPb.Children(new Block(Cid.Of(Multicodec.DagPb, node), node)));
        Assert.Empty(DagPb.Children(new Block(Leaf, [1, 2, 3])));
    }

    [Fact]
    public void ReadUnixFs_ReadsInlineDataAndSkipsUnknownFields_WhenDataComesFirst()
    {
        // Data {Type: file, Data: "hi", filesize: 2, mode: 420, unknown field 15 (fixed32)}, then one link without Name or Tsize.
        var unixFs = Convert.FromHexString("0802" + "12026869" + "1802" + "38a403" + "7d01020304");
        var node = Convert.FromHexString($"0a{unixFs.Length:x2}" + Convert.ToHexString(unixFs) + "1226" + "0a24" + Convert.ToHexString(Leaf.ToBytes()));

        var data = DagPb.ReadUnixFs(node);
        var link = Assert.Single(DagPb.ReadLinks(node));

        Assert.Equal("hi"u8.ToArray(), data.Data.ToArray());
        Assert.Equal(2UL, data.FileSize);
        Assert.Empty(data.BlockSizes);
        Assert.Equal(new DagLink(Leaf, null, null), link);
    }

    [Theory]
    [InlineData("0b", "wire type 3")]
    [InlineData("0f", "wire type 7")]
    [InlineData("0a80", "truncated")]
    [InlineData("0a05010203", "claims 5 bytes but only 3 remain")]
    [InlineData("1a00", "field 3 is not a PBNode field")]
    [InlineData("0800", "Data has wire type 0, expected 2")]
    [InlineData("0a020802" + "0a020802", "Data appears twice")]
    [InlineData("1200", "the link has no Hash")]
    [InlineData("12020a00", "Hash is not a supported CID")]
    [InlineData("1203" + "1200" + "00", "field number 0")]
    [InlineData("0affffffffffffffffff7f", "overflows 64 bits")]
    public void ReadLinks_Refuses_WhenTheNodeIsMalformed(string hex, string message)
    {
        var error = Assert.Throws<FormatException>(() => DagPb.ReadLinks(Convert.FromHexString(hex)));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadLinks_Refuses_WhenLinksAreOutOfOrderOrInterleavedWithData()
    {
        var hash = "0a24" + Convert.ToHexString(Leaf.ToBytes());
        var nameBeforeHash = Convert.FromHexString("1228" + "1200" + hash);
        var interleaved = Convert.FromHexString("1226" + hash + "0a020802" + "1226" + hash);

        Assert.Contains("Hash must come before Name", Assert.Throws<FormatException>(() => DagPb.ReadLinks(nameBeforeHash)).Message, StringComparison.Ordinal);
        Assert.Contains("interleaved", Assert.Throws<FormatException>(() => DagPb.ReadLinks(interleaved)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "no Data field")]
    [InlineData("0a00", "the required Type field is missing")]
    [InlineData("0a020809", "Type 9 is not a UnixFS type")]
    [InlineData("0a0508021802", "claims 5 bytes but only 4 remain")]
    [InlineData("0a03080218", "truncated")]
    [InlineData("0a0408022202", "blocksizes has wire type 2, expected 0")]
    [InlineData("0a0408020802", "Type appears twice")]
    public void ReadUnixFs_Refuses_WhenTheDataIsMalformed(string hex, string message)
    {
        var error = Assert.Throws<FormatException>(() => DagPb.ReadUnixFs(Convert.FromHexString(hex)));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}
