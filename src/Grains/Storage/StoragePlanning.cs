using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using MetaNode.Storage;

namespace MetaNode.Grains.Storage;

/// <summary>What the storage index knows of one block.</summary>
[GenerateSerializer, Alias("MetaNode.Storage.StoredBlock")]
public sealed class StoredBlock
{
    [Id(0)] public Multicodec Codec { get; set; }
    [Id(1)] public int Size { get; set; }
    /// <summary>The file size it stands for: its own length for a raw block, the UnixFS file size of a dag-pb node.</summary>
    [Id(2)] public long FileSize { get; set; }
    [Id(3)] public List<string> Children { get; set; } = [];
    /// <summary>The storage vPods that hold a copy (whether or not they run now).</summary>
    [Id(4)] public List<string> Holders { get; set; } = [];
    [Id(5)] public DateTimeOffset AddedAt { get; set; }
}

/// <summary>The storage grain's decisions, as pure functions of the index and the cluster's members.</summary>
public static class StoragePlanning
{
    /// <summary>
    /// Rendezvous (highest random weight) order of <paramref name="members"/> for a block: each member scores
    /// SHA-256(cid ‖ 0x00 ‖ member id) read as a big-endian 64-bit number; highest first, ties by id. A block's first r members
    /// change only when one of them leaves or a member that outranks them arrives.
    /// </summary>
    public static IReadOnlyList<string> Rank(string cid, IEnumerable<string> members)
    {
        ArgumentNullException.ThrowIfNull(cid);
        ArgumentNullException.ThrowIfNull(members);
        return members
            .Distinct(StringComparer.Ordinal)
            .Select(m => (Member: m, Score: Score(cid, m)))
            .OrderByDescending(x => x.Score)
            .ThenBy(x => x.Member, StringComparer.Ordinal)
            .Select(x => x.Member)
            .ToList();
    }

    /// <summary>Where to put new copies of a block: the best-ranked live members that do not hold it yet, enough to reach <paramref name="replication"/> live copies.</summary>
    public static IReadOnlyList<string> Targets(string cid, IReadOnlyCollection<string> holders, IReadOnlyCollection<string> live, int replication)
    {
        ArgumentNullException.ThrowIfNull(holders);
        ArgumentNullException.ThrowIfNull(live);
        var liveHolders = holders.Count(live.Contains);
        var wanted = Math.Min(replication, live.Count) - liveHolders;
        return wanted <= 0 ? [] : Rank(cid, live.Where(m => !holders.Contains(m))).Take(wanted).ToList();
    }

    /// <summary>Every block a pin reaches (the pinned roots and all their descendants the index knows).</summary>
    public static HashSet<string> Referenced(IReadOnlyDictionary<string, StoredBlock> blocks, IEnumerable<PinRecord> pins)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        ArgumentNullException.ThrowIfNull(pins);
        var reached = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>(pins.Select(p => p.Cid));
        while (pending.TryPop(out var cid))
        {
            if (reached.Add(cid) && blocks.TryGetValue(cid, out var block))
            {
                foreach (var child in block.Children)
                {
                    pending.Push(child);
                }
            }
        }

        return reached;
    }

    /// <summary>The blocks of a DAG the index holds and those it misses, walking from <paramref name="root"/>.</summary>
    public static (List<string> Present, List<string> Missing) Closure(IReadOnlyDictionary<string, StoredBlock> blocks, string root)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        var present = new List<string>();
        var missing = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>();
        pending.Push(root);
        while (pending.TryPop(out var cid))
        {
            if (!seen.Add(cid))
            {
                continue;
            }

            if (blocks.TryGetValue(cid, out var block))
            {
                present.Add(cid);
                foreach (var child in block.Children)
                {
                    pending.Push(child);
                }
            }
            else
            {
                missing.Add(cid);
            }
        }

        return (present, missing);
    }

    /// <summary>Blocks garbage collection removes: unreferenced, and added at least <paramref name="grace"/> before <paramref name="now"/>.</summary>
    public static (List<string> Collect, int InGrace) Garbage(IReadOnlyDictionary<string, StoredBlock> blocks, HashSet<string> referenced, DateTimeOffset now, TimeSpan grace)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        ArgumentNullException.ThrowIfNull(referenced);
        var collect = new List<string>();
        var inGrace = 0;
        foreach (var (cid, block) in blocks)
        {
            if (referenced.Contains(cid))
            {
                continue;
            }

            if (now - block.AddedAt >= grace)
            {
                collect.Add(cid);
            }
            else
            {
                inGrace++;
            }
        }

        collect.Sort(StringComparer.Ordinal);
        return (collect, inGrace);
    }

    private static ulong Score(string cid, string member)
    {
        Span<byte> digest = stackalloc byte[32];
        var input = Encoding.UTF8.GetBytes(cid + "\0" + member);
        SHA256.HashData(input, digest);
        return BinaryPrimitives.ReadUInt64BigEndian(digest);
    }
}
