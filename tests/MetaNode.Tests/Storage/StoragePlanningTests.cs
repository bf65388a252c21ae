using MetaNode.Grains.Storage;
using MetaNode.Silo.Hosting;
using MetaNode.Storage;

namespace MetaNode.Tests.Storage;

public sealed class StoragePlanningTests
{
    private static readonly string[] Members = ["vpod-s-0", "vpod-s-1", "vpod-s-2", "vpod-s-3", "vpod-s-4"];

    [Fact]
    public void Rank_IsAPermutation_ThatDependsOnTheCid_AndKeepsItsOrderWhenAMemberLeaves()
    {
        var cids = Enumerable.Range(0, 200).Select(i => Cid.Of(Multicodec.Raw, BitConverter.GetBytes(i)).ToString()).ToList();
        var firsts = cids.Select(c => StoragePlanning.Rank(c, Members)[0]).ToList();

        // Every member comes first for some blocks (the load spreads), and about a fifth of them each.
        foreach (var member in Members)
        {
            Assert.InRange(firsts.Count(f => f == member), 20, 70);
        }

        foreach (var cid in cids.Take(50))
        {
            var ranked = StoragePlanning.Rank(cid, Members);
            Assert.Equal(Members.Order(StringComparer.Ordinal), ranked.Order(StringComparer.Ordinal));
            Assert.Equal(ranked, StoragePlanning.Rank(cid, Members.Reverse()));

            // Removing a member leaves the others in the same relative order (rendezvous hashing moves only its blocks).
            var without = StoragePlanning.Rank(cid, Members.Where(m => m != ranked[1]));
            Assert.Equal(ranked.Where(m => m != ranked[1]), without);
        }
    }

    [Fact]
    public void Targets_TopUpToTheReplicationFactor_OnLiveMembersThatLackTheBlock()
    {
        var cid = Cid.Of(Multicodec.Raw, "hello vpod\n"u8).ToString();
        var ranked = StoragePlanning.Rank(cid, Members);

        Assert.Equal(ranked.Take(3), StoragePlanning.Targets(cid, [], Members, 3));

        // Held by the best two, one of them stopped: one copy more, on the best live member without it.
        var live = Members.Where(m => m != ranked[0]).ToList();
        var targets = StoragePlanning.Targets(cid, [ranked[0], ranked[1]], live, 3);
        Assert.Equal(ranked.Where(m => m != ranked[0] && m != ranked[1]).Take(2), targets);

        Assert.Empty(StoragePlanning.Targets(cid, ranked.Take(3).ToList(), Members, 3));
        // Fewer live members than the factor: one copy on each.
        Assert.Equal([Members[4]], StoragePlanning.Targets(cid, [Members[3]], [Members[3], Members[4]], 3));
    }

    [Fact]
    public void Garbage_KeepsEveryBlockAPinnedDagReaches_AndUnreferencedOnesInTheirGracePeriod()
    {
        var now = DateTimeOffset.Parse("2026-12-04T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        var blocks = new Dictionary<string, StoredBlock>
        {
            ["root"] = new() { Children = ["a", "b"], AddedAt = now.AddHours(-1) },
            ["a"] = new() { AddedAt = now.AddHours(-1) },
            ["b"] = new() { Children = ["c"], AddedAt = now.AddHours(-1) },
            ["c"] = new() { AddedAt = now.AddHours(-1) },
            ["orphan"] = new() { Children = ["a"], AddedAt = now.AddHours(-1) },
            ["fresh"] = new() { AddedAt = now.AddSeconds(-5) },
            ["locked"] = new() { AddedAt = now.AddHours(-1) },
        };
        PinRecord[] pins =
        [
            new() { Cid = "root", Owner = PinOwners.User, By = "alice" },
            new() { Cid = "locked", Owner = PinOwners.Lock("models/v1"), By = "alice" },
        ];

        var referenced = StoragePlanning.Referenced(blocks, pins);
        Assert.Equal(["a", "b", "c", "locked", "root"], referenced.Order(StringComparer.Ordinal));

        var (collect, inGrace) = StoragePlanning.Garbage(blocks, referenced, now, TimeSpan.FromMinutes(1));
        Assert.Equal(["orphan"], collect);
        Assert.Equal(1, inGrace);

        var (present, missing) = StoragePlanning.Closure(blocks, "orphan");
        Assert.Equal(["orphan", "a"], present);
        Assert.Empty(missing);
        blocks.Remove("c");
        Assert.Equal(["c"], StoragePlanning.Closure(blocks, "root").Missing);
    }

    [Theory]
    [InlineData(null, null, Multicodec.Raw, "raw")]
    [InlineData(null, null, Multicodec.DagPb, "car")]
    [InlineData(null, "*/*", Multicodec.DagPb, "car")]
    [InlineData(null, "application/vnd.ipld.raw", Multicodec.DagPb, "raw")]
    [InlineData(null, "text/html, application/vnd.ipld.car;version=1;q=0.9", Multicodec.Raw, "car")]
    [InlineData("raw", "application/vnd.ipld.car", Multicodec.DagPb, "raw")]
    [InlineData("car", null, Multicodec.Raw, "car")]
    [InlineData(null, "text/html", Multicodec.Raw, null)]
    [InlineData("tar", null, Multicodec.Raw, null)]
    public void Gateway_ChoosesTheFormat_FromTheQueryThenTheAcceptHeader(string? format, string? accept, Multicodec codec, string? expected) =>
        Assert.Equal(expected, IpfsGateway.ChooseFormat(format, accept, codec));
}
