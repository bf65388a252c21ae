using MetaNode.Storage;

namespace MetaNode.Tests.Storage;

internal static class StorageTestData
{
    public const int Chunk = UnixFsFile.ChunkSize;

    /// <summary>One full node of leaves: the largest file whose tree has one level of dag-pb nodes.</summary>
    public const int FullNode = UnixFsFile.MaxLinks * Chunk;

    /// <summary>The sizes every import and export test covers: empty, one byte, around one chunk, around one full node (+1 forces a second level), ~5 MiB and ~50 MiB.</summary>
    public static TheoryData<int> Sizes => [0, 1, Chunk - 1, Chunk, Chunk + 1, FullNode, FullNode + 1, (5 << 20) + 12_345, (50 << 20) + 321];

    /// <summary>Deterministic pseudo-random bytes (a seeded <see cref="Random"/>, seeded by the length unless told).</summary>
    public static byte[] Bytes(int length, int? seed = null)
    {
        var bytes = new byte[length];
        new Random(seed ?? length).NextBytes(bytes);
        return bytes;
    }

    /// <summary>The blocks under <paramref name="root"/>, depth-first in link order, the root first.</summary>
    public static List<Block> DepthFirst(Cid root, IReadOnlyDictionary<Cid, Block> blocks)
    {
        var order = new List<Block>();
        var stack = new Stack<Cid>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var block = blocks[stack.Pop()];
            order.Add(block);
            var children = DagPb.Children(block);
            for (var i = children.Count - 1; i >= 0; i--)
            {
                stack.Push(children[i]);
            }
        }

        return order;
    }

    /// <summary>Asserts equal bytes, naming the first offset that differs (xUnit's element-wise comparison is slow for megabytes).</summary>
    public static void AssertSameBytes(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, string what)
    {
        var common = expected.CommonPrefixLength(actual);
        Assert.True(
            common == expected.Length && common == actual.Length,
            $"{what}: expected {expected.Length} bytes, got {actual.Length}; they first differ at offset {common}.");
    }

    public static async Task<List<Block>> ImportAllAsync(Stream content)
    {
        var blocks = new List<Block>();
        await foreach (var block in UnixFsFile.ImportAsync(content))
        {
            blocks.Add(block);
        }

        return blocks;
    }
}
