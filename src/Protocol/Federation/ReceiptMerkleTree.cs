namespace MetaNode.Federation;

/// <summary>
/// The Merkle root over a round's receipt hashes (the "chainlink.lock" proof of which updates went into a result):
/// <list type="number">
/// <item>leaves are the 32-byte receipt hashes, sorted ascending as unsigned bytes (so arrival order does not matter); duplicates are refused;</item>
/// <item>each level pairs neighbours (0,1), (2,3), … and hashes a pair as <c>keccak256(min(a,b) ‖ max(a,b))</c> — the commutative
/// pair hash of OpenZeppelin's <c>MerkleProof</c>, so its <c>verify</c> accepts proofs from <see cref="Proof"/>;</item>
/// <item>an odd node at the end of a level is carried up unchanged (not duplicated);</item>
/// <item>the root of one leaf is that leaf; there is no root of zero leaves.</item>
/// </list>
/// </summary>
public static class ReceiptMerkleTree
{
    public static byte[] Root(IEnumerable<byte[]> leaves)
    {
        var level = SortedLeaves(leaves);
        while (level.Count > 1)
        {
            level = NextLevel(level);
        }

        return level[0];
    }

    public static string RootHex(IEnumerable<string> leafHashes) =>
        FederationHashing.ToHex(Root(leafHashes.Select(FederationHashing.ParseHash)));

    /// <summary>The sibling hashes from <paramref name="leaf"/> up to the root (levels where the node was carried up contribute none).</summary>
    public static IReadOnlyList<byte[]> Proof(IEnumerable<byte[]> leaves, byte[] leaf)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        var level = SortedLeaves(leaves);
        var index = level.FindIndex(l => l.AsSpan().SequenceEqual(leaf));
        if (index < 0)
        {
            throw new ArgumentException($"{FederationHashing.ToHex(leaf)} is not a leaf of this tree.", nameof(leaf));
        }

        var proof = new List<byte[]>();
        while (level.Count > 1)
        {
            var sibling = index ^ 1;
            if (sibling < level.Count)
            {
                proof.Add(level[sibling]);
            }

            level = NextLevel(level);
            index /= 2;
        }

        return proof;
    }

    public static bool Verify(ReadOnlySpan<byte> root, byte[] leaf, IEnumerable<byte[]> proof)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        ArgumentNullException.ThrowIfNull(proof);
        var node = leaf;
        foreach (var sibling in proof)
        {
            node = HashPair(node, sibling);
        }

        return root.SequenceEqual(node);
    }

    /// <summary><c>keccak256(min(a,b) ‖ max(a,b))</c> with bytes compared as unsigned big-endian numbers.</summary>
    public static byte[] HashPair(byte[] a, byte[] b)
    {
        var (low, high) = a.AsSpan().SequenceCompareTo(b) <= 0 ? (a, b) : (b, a);
        var pair = new byte[low.Length + high.Length];
        low.CopyTo(pair, 0);
        high.CopyTo(pair, low.Length);
        return FederationHashing.Keccak256(pair);
    }

    private static List<byte[]> SortedLeaves(IEnumerable<byte[]> leaves)
    {
        ArgumentNullException.ThrowIfNull(leaves);
        var sorted = leaves.ToList();
        if (sorted.Count == 0)
        {
            throw new ArgumentException("A Merkle tree needs at least one receipt.", nameof(leaves));
        }

        foreach (var leaf in sorted)
        {
            if (leaf is not { Length: FederationHashing.HashLength })
            {
                throw new ArgumentException("Every leaf must be a 32-byte hash.", nameof(leaves));
            }
        }

        sorted.Sort((x, y) => x.AsSpan().SequenceCompareTo(y));
        for (var i = 1; i < sorted.Count; i++)
        {
            if (sorted[i - 1].AsSpan().SequenceEqual(sorted[i]))
            {
                throw new ArgumentException($"Receipt hash {FederationHashing.ToHex(sorted[i])} appears twice.", nameof(leaves));
            }
        }

        return sorted;
    }

    private static List<byte[]> NextLevel(List<byte[]> level)
    {
        var next = new List<byte[]>((level.Count + 1) / 2);
        for (var i = 0; i + 1 < level.Count; i += 2)
        {
            next.Add(HashPair(level[i], level[i + 1]));
        }

        if (level.Count % 2 == 1)
        {
            next.Add(level[^1]);
        }

        return next;
    }
}
