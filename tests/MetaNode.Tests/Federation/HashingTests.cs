using System.Text;
using MetaNode.Federation;
using Nethereum.ABI;
using Nethereum.Util;

namespace MetaNode.Tests.Federation;

public sealed class HashingTests
{
    private static byte[] Leaf(string text) => Sha3Keccack.Current.CalculateHash(Encoding.UTF8.GetBytes(text));

    private static byte[] PairHash(byte[] a, byte[] b)
    {
        var (low, high) = Convert.ToHexString(a).CompareTo(Convert.ToHexString(b)) <= 0 ? (a, b) : (b, a);
        return Sha3Keccack.Current.CalculateHash([.. low, .. high]);
    }

    [Fact]
    public void Keccak256_MatchesKnownAnswers_WhenHashingEmptyAndAbc()
    {
        Assert.Equal("0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470", FederationHashing.ToHex(FederationHashing.Keccak256([])));
        Assert.Equal("0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45", FederationHashing.ToHex(FederationHashing.Keccak256("abc"u8)));
    }

    [Fact]
    public void MerkleRoot_IsTheLeafItself_WhenThereIsOneLeaf()
    {
        var leaf = Leaf("a");

        Assert.Equal(leaf, ReceiptMerkleTree.Root([leaf]));
    }

    [Fact]
    public void MerkleRoot_HashesTheSortedPair_WhenThereAreTwoLeaves()
    {
        byte[] a = Leaf("a"), b = Leaf("b");

        Assert.Equal(PairHash(a, b), ReceiptMerkleTree.Root([a, b]));
        Assert.Equal(ReceiptMerkleTree.Root([a, b]), ReceiptMerkleTree.Root([b, a]));
    }

    [Fact]
    public void MerkleRoot_CarriesTheOddLeafUp_WhenThereAreThreeLeaves()
    {
        var sorted = new[] { Leaf("a"), Leaf("b"), Leaf("c") }.OrderBy(Convert.ToHexString).ToArray();
        var expected = PairHash(PairHash(sorted[0], sorted[1]), sorted[2]);

        Assert.Equal(expected, ReceiptMerkleTree.Root([sorted[2], sorted[0], sorted[1]]));
        Assert.Equal(expected, ReceiptMerkleTree.Root([sorted[1], sorted[2], sorted[0]]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(8)]
    public void MerkleProof_VerifiesEveryLeafAgainstTheRoot_WhenBuiltFromTheSameLeaves(int count)
    {
        var leaves = Enumerable.Range(0, count).Select(i => Leaf("r" + i)).ToList();
        var root = ReceiptMerkleTree.Root(leaves);

        foreach (var leaf in leaves)
        {
            Assert.True(ReceiptMerkleTree.Verify(root, leaf, ReceiptMerkleTree.Proof(leaves, leaf)));
        }

        Assert.False(ReceiptMerkleTree.Verify(root, Leaf("other"), ReceiptMerkleTree.Proof(leaves, leaves[0])));
    }

    [Fact]
    public void MerkleRoot_Throws_WhenLeavesAreEmptyDuplicatedOrNotHashes()
    {
        Assert.Throws<ArgumentException>(() => ReceiptMerkleTree.Root([]));
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => ReceiptMerkleTree.Root([Leaf("a"), Leaf("a")])).Message);
        Assert.Throws<ArgumentException>(() => ReceiptMerkleTree.Root([new byte[31]]));
    }

    [Fact]
    public void ReceiptHash_EqualsTheEip712StructHash_WhenComputedWithAbiEncoding()
    {
        var update = FederationHashing.ToHex(Leaf("model"));
        var receipt = new TrainingReceipt("job-7", 3, "vpod-c01", 144, update, Signature: "0xsig");
        var typeHash = Sha3Keccack.Current.CalculateHash(Encoding.UTF8.GetBytes("TrainingReceipt(string job,uint256 round,string vpod,uint256 sampleCount,bytes32 updateHash)"));

        var expected = new ABIEncode().GetSha3ABIEncoded(
            new ABIValue("bytes32", typeHash),
            new ABIValue("bytes32", Leaf("job-7")),
            new ABIValue("uint256", 3),
            new ABIValue("bytes32", Leaf("vpod-c01")),
            new ABIValue("uint256", 144),
            new ABIValue("bytes32", Convert.FromHexString(update[2..])));

        Assert.Equal(expected, ReceiptHashing.Hash(receipt));
        Assert.Equal(ReceiptHashing.Hash(receipt), ReceiptHashing.Hash(receipt with { Signature = null }));
        Assert.NotEqual(ReceiptHashing.Hash(receipt), ReceiptHashing.Hash(receipt with { SampleCount = 145 }));
    }

    [Fact]
    public void SigningDigest_HashesTheEip712Prefix_WhenGivenADomainSeparator()
    {
        var receipt = new TrainingReceipt("job", 1, "vpod-a", 10, FederationHashing.ToHex(Leaf("m")));
        var domain = Leaf("domain");

        var digest = ReceiptHashing.SigningDigest(domain, receipt);

        Assert.Equal(Sha3Keccack.Current.CalculateHash([0x19, 0x01, .. domain, .. ReceiptHashing.Hash(receipt)]), digest);
        Assert.Throws<ArgumentException>(() => ReceiptHashing.SigningDigest(new byte[5], receipt));
    }

    [Fact]
    public void Training_GivesAStableSeedDistinctPerJobSeedRoundAndVPod_WhenDerived()
    {
        var seed = FederatedSeeds.Training(42, 1, "vpod-a");

        Assert.Equal(seed, FederatedSeeds.Training(42, 1, "vpod-a"));
        Assert.NotEqual(seed, FederatedSeeds.Training(42, 2, "vpod-a"));
        Assert.NotEqual(seed, FederatedSeeds.Training(42, 1, "vpod-b"));
        Assert.NotEqual(seed, FederatedSeeds.Training(43, 1, "vpod-a"));
        Assert.True(seed <= FederatedSeeds.Mask);
        var text = $"metanode/seed/train/42/1/vpod-a";
        Assert.Equal(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(Leaf(text)) & FederatedSeeds.Mask, seed);
    }
}
