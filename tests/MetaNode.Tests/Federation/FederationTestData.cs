using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Grains.Runtime;

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

    /// <summary>Places <paramref name="data"/> for <paramref name="parts"/> compute vPods and one validator, as a job does (<see cref="FederatedDataPlacement"/>).</summary>
    public static FederationTestData Create(TabularDataset data, PartitionScheme scheme, int parts, ulong seed, double testFraction = 0.2)
    {
        var root = Path.Combine(Path.GetTempPath(), "metanode-fed-" + Guid.NewGuid().ToString("N")[..8]);
        var spec = new FederatedJobSpec
        {
            ComputeCluster = "compute",
            ValidatorCluster = "validators",
            Dataset = data.Name,
            Partition = scheme,
            Seed = seed,
            TestFraction = testFraction,
        };
        var computeIds = Enumerable.Range(0, parts).Select(i => $"vpod-c{i:D2}").ToList();
        const string validatorId = "vpod-v00";
        foreach (var (id, files) in FederatedDataPlacement.Place(spec, data, computeIds, [validatorId]).Files)
        {
            DataDirectoryWriter.Write(Path.Combine(root, id, "data"), files);
        }

        return new FederationTestData(root, computeIds, validatorId, DataPartitioner.Plan(data, scheme, parts, testFraction, seed));
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
