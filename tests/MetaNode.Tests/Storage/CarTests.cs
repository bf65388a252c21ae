using MetaNode.Storage;

namespace MetaNode.Tests.Storage;

public sealed class CarTests
{
    private static readonly Cid HelloVpod = Cid.Parse("bafkreicep5galetmxyayynxibzbzrz24kkq2zv3dzaec6pg6p4zwg2bgsm");

    [Fact]
    public async Task WriteHeaderAsync_WritesTheBytesIpldCarWrites()
    {
        // CarWriter.create([...]) of @ipld/car 5.4.7, for one root and for none.
        Assert.Equal(
            Convert.FromHexString("3aa265726f6f747381d82a58250001551220447f4c05926cbe018c36e80e4398e75c52a1acd763c8082f3cde7f33636826936776657273696f6e01"),
            await HeaderAsync([HelloVpod]));
        Assert.Equal(Convert.FromHexString("11a265726f6f7473806776657273696f6e01"), await HeaderAsync([]));
    }

    [Fact]
    public async Task Read_GivesBackRootsAndBlocks_WhenWrittenWithWriteBlockAsync()
    {
        var blocks = UnixFsFile.Import(StorageTestData.Bytes(2 * StorageTestData.Chunk + 3));
        using var car = new MemoryStream();
        await Car.WriteHeaderAsync(car, [blocks[^1].Cid, blocks[0].Cid]);
        foreach (var block in blocks)
        {
            await Car.WriteBlockAsync(car, block);
        }

        var (roots, read) = Car.Read(car.ToArray());

        Assert.Equal([blocks[^1].Cid, blocks[0].Cid], roots);
        Assert.Equal(blocks.Select(b => b.Cid), read.Select(b => b.Cid));
        for (var i = 0; i < blocks.Count; i++)
        {
            StorageTestData.AssertSameBytes(blocks[i].Data, read[i].Data, $"block {i}");
        }
        var headerLength = (await HeaderAsync([blocks[^1].Cid, blocks[0].Cid])).Length;
        var firstSection = car.ToArray().AsSpan(headerLength);
        Assert.Equal(1 + 99, headerLength);
        Assert.Equal(Convert.FromHexString("a48010"), firstSection[..3].ToArray());
        Assert.Equal(blocks[0].Cid.ToBytes(), firstSection.Slice(3, 36).ToArray());
    }

    [Fact]
    public async Task WriteBlockAsync_Refuses_WhenTheBlockDoesNotHashToItsCid()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => Car.WriteBlockAsync(Stream.Null, new Block(HelloVpod, [1])));

        Assert.Contains("does not hash to its CID", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "header length is unreadable")]
    [InlineData("3aa265", "the header claims 58 bytes, 2 remain")]
    [InlineData("0aa16776657273696f6e02", "CARv2")]
    [InlineData("11a26776657273696f6e0165726f6f747380", "\"version\" comes before \"roots\"")]
    [InlineData("11a265726f6f7473806776657273696f6e02", "CAR version 2 is not supported")]
    [InlineData("12a265726f6f7473806776657273696f6e1801", "shortest CBOR encoding")]
    [InlineData("11a265726f6f74739f6776657273696f6e01", "indefinite-length")]
    [InlineData("11a265726f6f7473816776657273696f6e01", "root 0 is not a CID")]
    [InlineData("11a265726f6f7473806776657273696f6e01" + "05", "section 0 claims 5 bytes, 0 remain")]
    [InlineData("11a265726f6f7473806776657273696f6e01" + "80", "truncated")]
    [InlineData("11a265726f6f7473806776657273696f6e01" + "0201ff", "does not start with a supported CID")]
    public void Read_Refuses_WhenTheCarIsMalformed(string hex, string message)
    {
        var error = Assert.Throws<FormatException>(() => Car.Read(Convert.FromHexString(hex)));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_Refuses_WhenABlockDoesNotHashToItsCid()
    {
        using var car = new MemoryStream();
        await Car.WriteHeaderAsync(car, [HelloVpod]);
        await Car.WriteBlockAsync(car, new Block(HelloVpod, "hello vpod\n"u8.ToArray()));
        var bytes = car.ToArray();
        bytes[^1] = (byte)'!';

        var error = Assert.Throws<FormatException>(() => Car.Read(bytes));

        Assert.Contains($"CAR block {HelloVpod} (section 0) does not hash to its CID", error.Message, StringComparison.Ordinal);
    }

    private static async Task<byte[]> HeaderAsync(IReadOnlyList<Cid> roots)
    {
        using var output = new MemoryStream();
        await Car.WriteHeaderAsync(output, roots);
        return output.ToArray();
    }
}
