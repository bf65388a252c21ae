using System.Globalization;
using MetaNode.Federation;
using MetaNode.VPods;

namespace MetaNode.Grains.Federation;

/// <summary>
/// Which rows went where: training rows per compute vPod, the held-out rows every validator holds, and the files of each vPod's
/// partition (<see cref="PartitionWriter"/>), which the job places in each vPod's data directory through the workload protocol (any runtime).
/// </summary>
public sealed record DataPlacement(
    IReadOnlyDictionary<string, int> TrainRows,
    int TestRows,
    int Features,
    int Classes,
    IReadOnlyDictionary<string, VPodDataFiles> Files);

/// <summary>
/// Places a job's data in its vPods (step 1 of a federated round): the data set is split and partitioned by
/// <see cref="DataPartitioner.Plan"/> with the job's seed, compute vPods in ordinal id order get parts 0, 1, …, and every
/// validator gets the held-out test split. Placing again with the same inputs gives the same bytes, so a job that resumes
/// after a silo loss can simply place again.
/// </summary>
public static class FederatedDataPlacement
{
    public static DataPlacement Place(
        FederatedJobSpec spec,
        TabularDataset data,
        IReadOnlyCollection<string> computeVPods,
        IReadOnlyCollection<string> validatorVPods)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(computeVPods);
        ArgumentNullException.ThrowIfNull(validatorVPods);
        var compute = computeVPods.Order(StringComparer.Ordinal).ToList();
        var validators = validatorVPods.Order(StringComparer.Ordinal).ToList();
        if (compute.Count == 0 || validators.Count == 0)
        {
            throw new ArgumentException($"A job needs compute and validator vPods; got {compute.Count} and {validators.Count}.");
        }

        if (compute.Concat(validators).Distinct(StringComparer.Ordinal).Count() != compute.Count + validators.Count)
        {
            throw new ArgumentException("A vPod is named twice among the compute and validator vPods.");
        }

        var plan = DataPartitioner.Plan(data, spec.Partition, compute.Count, spec.TestFraction, spec.Seed);
        var partition = spec.Partition.ToString();
        var trainRows = new Dictionary<string, int>(StringComparer.Ordinal);
        var files = new Dictionary<string, VPodDataFiles>(StringComparer.Ordinal);
        for (var i = 0; i < compute.Count; i++)
        {
            files[compute[i]] = PartitionWriter.Files(new PartitionDescription(data.Name, partition, i, compute.Count, spec.Seed), plan.Parts[i], null);
            trainRows[compute[i]] = plan.Parts[i].Rows;
        }

        for (var i = 0; i < validators.Count; i++)
        {
            files[validators[i]] = PartitionWriter.Files(
                new PartitionDescription(data.Name, "test:" + spec.TestFraction.ToString("R", CultureInfo.InvariantCulture), i, validators.Count, spec.Seed),
                null,
                plan.Test);
        }

        return new DataPlacement(trainRows, plan.Test.Rows, data.Features, data.Classes, files);
    }
}
