using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace MetaNode.Federation;

/// <summary>
/// Seeds derived from a job's seed, one per purpose, so the split, the partition and each vPod's training in each round draw
/// independent streams and a resumed job draws the same ones: the first 8 bytes (big-endian) of
/// <c>keccak256("metanode/seed/{purpose}/{jobSeed}/{round}/{vpodId}")</c>, masked to 53 bits (the largest seed the workload protocol carries).
/// </summary>
public static class FederatedSeeds
{
    public const string SplitPurpose = "split";
    public const string PartitionPurpose = "partition";
    public const string TrainingPurpose = "train";
    public const string SyntheticPurpose = "synthetic";
    public const ulong Mask = (1UL << 53) - 1;

    public static ulong Derive(ulong jobSeed, string purpose, int round = 0, string vpodId = "")
    {
        ArgumentException.ThrowIfNullOrEmpty(purpose);
        var text = string.Create(CultureInfo.InvariantCulture, $"metanode/seed/{purpose}/{jobSeed}/{round}/{vpodId}");
        var hash = FederationHashing.Keccak256(Encoding.UTF8.GetBytes(text));
        return BinaryPrimitives.ReadUInt64BigEndian(hash) & Mask;
    }

    /// <summary>The seed a vPod trains with in a round.</summary>
    public static ulong Training(ulong jobSeed, int round, string vpodId) => Derive(jobSeed, TrainingPurpose, round, vpodId);
}
