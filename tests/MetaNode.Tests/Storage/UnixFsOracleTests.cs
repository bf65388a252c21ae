using System.Text.Json;
using MetaNode.Storage;

namespace MetaNode.Tests.Storage;

/// <summary>
/// Compares <see cref="UnixFsFile"/> and <see cref="Car"/> with IPFS's own JavaScript importer, CAR reader and exporter
/// (tests/ipfs-reference, pinned npm packages): same root CIDs, CARs the JS side accepts and exports to the original bytes.
/// </summary>
public sealed class UnixFsOracleTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("metanode-ipfs-");

    public static TheoryData<int> Sizes => StorageTestData.Sizes;

    public void Dispose() => _directory.Delete(recursive: true);

    [Theory]
    [MemberData(nameof(Sizes))]
    public async Task RootCid_EqualsTheJsImporters_ForEachSize(int size)
    {
        var content = StorageTestData.Bytes(size);
        var file = Path.Combine(_directory.FullName, $"{size}.bin");
        await File.WriteAllBytesAsync(file, content);

        var expected = await IpfsReference.CidAsync(file);
        List<Block> streamed;
        await using (var stream = File.OpenRead(file))
        {
            streamed = await StorageTestData.ImportAllAsync(stream);
        }

        Assert.StartsWith(size <= StorageTestData.Chunk ? "bafkrei" : "bafybei", expected, StringComparison.Ordinal);
        Assert.Equal(expected, UnixFsFile.ComputeCid(content).ToString());
        Assert.Equal(expected, streamed[^1].Cid.ToString());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(StorageTestData.Chunk + 1)]
    [InlineData(StorageTestData.FullNode)]
    [InlineData(StorageTestData.FullNode + 1)]
    [InlineData((5 << 20) + 12_345)]
    public async Task Car_IsAcceptedAndExportedByTheJsReader_WhenWrittenFromImportedBlocks(int size)
    {
        var content = StorageTestData.Bytes(size, seed: 99);
        var car = Path.Combine(_directory.FullName, $"{size}.car");
        var exported = Path.Combine(_directory.FullName, $"{size}.out");
        var (root, blocks) = await WriteCarAsync(content, car);

        var (code, stdout, stderr) = await IpfsReference.CarCheckAsync(car, root.ToString(), exported);

        Assert.True(code == 0, $"car-check failed with exit code {code}: {stderr}");
        using var summary = JsonDocument.Parse(stdout);
        Assert.Equal(root.ToString(), summary.RootElement.GetProperty("root").GetString());
        Assert.Equal(blocks.Count, summary.RootElement.GetProperty("blocks").GetInt32());
        var exportedBytes = await File.ReadAllBytesAsync(exported);
        StorageTestData.AssertSameBytes(content, exportedBytes, "the file ipfs-unixfs-exporter wrote");

        var carBytes = await File.ReadAllBytesAsync(car);
        var read = Car.Read(carBytes);
        Assert.Equal([root], read.Roots);
        Assert.Equal(blocks.Select(b => b.Cid), read.Blocks.Select(b => b.Cid));
        for (var i = 0; i < blocks.Count; i++)
        {
            StorageTestData.AssertSameBytes(blocks[i].Data, read.Blocks[i].Data, $"block {i} read back by Car.Read");
        }
    }

    [Fact]
    public async Task TamperedCar_IsRefusedByTheJsReaderAndByCarRead_WhenOneLeafByteIsFlipped()
    {
        var content = StorageTestData.Bytes(3 * StorageTestData.Chunk + 5, seed: 7);
        var car = Path.Combine(_directory.FullName, "tampered.car");
        var (root, blocks) = await WriteCarAsync(content, car);
        var leaf = blocks[2];
        Assert.Equal(Multicodec.Raw, leaf.Cid.Codec);

        var bytes = await File.ReadAllBytesAsync(car);
        var offset = bytes.AsSpan().IndexOf(leaf.Data.AsSpan(0, 64));
        Assert.True(offset > 0);
        bytes[offset + 1000] ^= 0x01;
        await File.WriteAllBytesAsync(car, bytes);

        var (code, _, stderr) = await IpfsReference.CarCheckAsync(car, root.ToString());

        Assert.NotEqual(0, code);
        Assert.Contains(leaf.Cid.ToString(), stderr, StringComparison.Ordinal);
        Assert.Contains(leaf.Cid.ToString(), Assert.Throws<FormatException>(() => Car.Read(bytes)).Message, StringComparison.Ordinal);
    }

    /// <summary>Imports <paramref name="content"/> and writes it as a CAR: its root as the only root, blocks depth-first from it.</summary>
    private static async Task<(Cid Root, List<Block> Blocks)> WriteCarAsync(byte[] content, string path)
    {
        List<Block> imported;
        using (var input = new MemoryStream(content, writable: false))
        {
            imported = await StorageTestData.ImportAllAsync(input);
        }

        var root = imported[^1].Cid;
        var blocks = StorageTestData.DepthFirst(root, imported.ToDictionary(b => b.Cid));
        Assert.Equal(imported.Count, blocks.Count);
        await using var output = File.Create(path);
        await Car.WriteHeaderAsync(output, [root]);
        foreach (var block in blocks)
        {
            await Car.WriteBlockAsync(output, block);
        }

        return (root, blocks);
    }
}
