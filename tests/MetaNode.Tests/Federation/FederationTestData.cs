using MetaNode.Federation;
using MetaNode.Grains.Federation;

namespace MetaNode.Tests.Federation;

/// <summary>Temporary data directories holding a job's partitions, laid out as the job places them in vPods.</summary>
internal sealed class FederationTestData : IDisposable
{
    private FederationTestData(string root, IReadOnlyList<string> computeIds, string validatorId, FederatedDataPlan plan)
    {
        Root = root;
        ComputeIds = computeIds;
        ValidatorId = validatorId;
        Plan = plan;
    }

    public string Root { get; }

    public IReadOnlyList<string> ComputeIds { get; }

    public string ValidatorId { get; }

    public FederatedDataPlan Plan { get; }

    public string DataDirectory(string vpodId) => Path.Combine(Root, vpodId, "data");

    /// <summary>Splits and partitions <paramref name="data"/> for <paramref name="parts"/> compute vPods and writes every vPod's data directory.</summary>
    public static FederationTestData Create(TabularDataset data, PartitionScheme scheme, int parts, ulong seed, double testFraction = 0.2)
    {
        var root = Path.Combine(Path.GetTempPath(), "metanode-fed-" + Guid.NewGuid().ToString("N")[..8]);
        var plan = DataPartitioner.Plan(data, scheme, parts, testFraction, seed);
        var computeIds = Enumerable.Range(0, parts).Select(i => $"vpod-c{i:D2}").ToList();
        for (var i = 0; i < parts; i++)
        {
            PartitionWriter.Write(Path.Combine(root, computeIds[i], "data"), new PartitionDescription(data.Name, scheme.ToString(), i, parts, seed), plan.Parts[i], null);
        }

        const string validatorId = "vpod-v00";
        PartitionWriter.Write(Path.Combine(root, validatorId, "data"), new PartitionDescription(data.Name, scheme.ToString(), 0, 1, seed), null, plan.Test);
        return new FederationTestData(root, computeIds, validatorId, plan);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A workload process may still hold a file open while it exits; the temporary directory is left for the OS.
        }
    }
}
