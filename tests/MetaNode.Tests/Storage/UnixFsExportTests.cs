using MetaNode.Storage;

namespace MetaNode.Tests.Storage;

public sealed class UnixFsExportTests
{
    private const int TwoLeaves = StorageTestData.Chunk + 1;

    public static TheoryData<int> Sizes => StorageTestData.Sizes;

    [Theory]
    [MemberData(nameof(Sizes))]
    public async Task ExportAsync_WritesTheOriginalBytes_AfterImport(int size)
    {
        var content = StorageTestData.Bytes(size);
        var blocks = UnixFsFile.Import(content);
        List<Block> streamed;
        using (var input = new MemoryStream(content, writable: false))
        {
            streamed = await StorageTestData.ImportAllAsync(input);
        }

        using var output = new MemoryStream();
        var written = await UnixFsFile.ExportAsync(blocks[^1].Cid, Store(blocks), output);

        Assert.Equal(size, written);
        StorageTestData.AssertSameBytes(content, output.ToArray(), "the exported file");
        Assert.Equal(blocks.Select(b => b.Cid), streamed.Select(b => b.Cid));
        Assert.Equal(UnixFsFile.ComputeCid(content), blocks[^1].Cid);
        Assert.Equal(Math.Max(1, (size + StorageTestData.Chunk - 1) / StorageTestData.Chunk), blocks.Count(b => b.Cid.Codec == Multicodec.Raw));
    }

    [Fact]
    public void Import_YieldsEveryBlockBeforeItsParentsAndTheRootLast_WhenTheTreeHasTwoLevels()
    {
        var blocks = UnixFsFile.Import(StorageTestData.Bytes(StorageTestData.FullNode + 1));
        var seen = new HashSet<Cid>();

        foreach (var block in blocks)
        {
            Assert.All(DagPb.Children(block), child => Assert.Contains(child, seen));
            Assert.True(seen.Add(block.Cid));
        }

        var root = DagPb.ReadLinks(blocks[^1].Data);
        var lone = DagPb.ReadLinks(blocks[^2].Data);
        Assert.Equal(2, root.Count);
        Assert.Equal(blocks[^2].Cid, root[1].Cid);
        Assert.Equal([(ulong)StorageTestData.FullNode, 1UL], DagPb.ReadUnixFs(blocks[^1].Data).BlockSizes);
        Assert.Single(lone);
        Assert.Equal(Multicodec.Raw, lone[0].Cid.Codec);
        Assert.Equal(string.Empty, lone[0].Name);
        Assert.Equal(1UL, lone[0].TotalSize);
        Assert.Equal(176 + 2, blocks.Count);
    }

    [Fact]
    public async Task ExportAsync_Throws_WhenABlockIsMissing()
    {
        var blocks = UnixFsFile.Import(StorageTestData.Bytes(3 * StorageTestData.Chunk));
        var missing = blocks[1];

        var error = await Assert.ThrowsAsync<InvalidDataException>(() =>
            UnixFsFile.ExportAsync(blocks[^1].Cid, Store(blocks.Where(b => b != missing)), Stream.Null));

        Assert.Contains($"block {missing.Cid} is missing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExportAsync_Throws_WhenTwoBlocksAreSwapped()
    {
        var blocks = UnixFsFile.Import(StorageTestData.Bytes(3 * StorageTestData.Chunk));
        var store = blocks.ToDictionary(b => b.Cid, b => b.Data);
        (store[blocks[0].Cid], store[blocks[1].Cid]) = (store[blocks[1].Cid], store[blocks[0].Cid]);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() =>
            UnixFsFile.ExportAsync(blocks[^1].Cid, (cid, _) => Task.FromResult<byte[]?>(store.GetValueOrDefault(cid)), Stream.Null));

        Assert.Contains($"block {blocks[0].Cid} does not hash to its CID", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExportAsync_Throws_WhenANodeLiesAboutAChildsBlocksize()
    {
        var blocks = UnixFsFile.Import(StorageTestData.Bytes(TwoLeaves));
        var links = DagPb.ReadLinks(blocks[^1].Data);
        var lying = DagPb.EncodeFileNode(links, [(ulong)StorageTestData.Chunk, 2]);
        var root = Cid.Of(Multicodec.DagPb, lying);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() =>
            UnixFsFile.ExportAsync(root, Store([.. blocks, new Block(root, lying)]), new MemoryStream()));

        Assert.Contains($"raw block {links[1].Cid} holds 1 bytes, but its parent says 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExportAsync_Throws_WhenANodesFilesizeDisagreesWithItsBlocksizes()
    {
        var blocks = UnixFsFile.Import(StorageTestData.Bytes(TwoLeaves));
        var node = blocks[^1].Data.ToArray();
        var fileSize = new byte[] { 0x18, 0x81, 0x80, 0x10 };
        var at = node.AsSpan().IndexOf(fileSize);
        Assert.True(at > 0, "the root should carry filesize 262,145");
        node[at + 1] = 0x82;
        var root = Cid.Of(Multicodec.DagPb, node);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() =>
            UnixFsFile.ExportAsync(root, Store([.. blocks, new Block(root, node)]), Stream.Null));

        Assert.Contains("says filesize 262146, but its data and blocksizes add up to 262145", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExportAsync_Throws_WhenTheRootIsNotAUnixFsFile()
    {
        var blocks = UnixFsFile.Import(StorageTestData.Bytes(TwoLeaves));
        var node = blocks[^1].Data.ToArray();
        var at = node.AsSpan().IndexOf(new byte[] { 0x08, 0x02, 0x18 });
        node[at + 1] = 0x01;
        var root = Cid.Of(Multicodec.DagPb, node);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() =>
            UnixFsFile.ExportAsync(root, Store([.. blocks, new Block(root, node)]), Stream.Null));

        Assert.Contains("is a UnixFS directory, not a file", error.Message, StringComparison.Ordinal);
    }

    private static Func<Cid, CancellationToken, Task<byte[]?>> Store(IEnumerable<Block> blocks)
    {
        var store = blocks.ToDictionary(b => b.Cid, b => b.Data);
        return (cid, _) => Task.FromResult(store.GetValueOrDefault(cid));
    }
}
