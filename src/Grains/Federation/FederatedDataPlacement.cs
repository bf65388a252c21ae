using System.Globalization;
using MetaNode.Federation;

namespace MetaNode.Grains.Federation;

/// <summary>Which rows went where: training rows per compute vPod and the held-out rows every validator holds.</summary>
public sealed record DataPlacement(IReadOnlyDictionary<string, int> TrainRows, int TestRows, int Features, int Classes);

/// <summary>
/// Places a job's data in its vPods' data directories (step 1 of a federated round): the data set is split and partitioned by
/// <see cref="DataPartitioner.Plan"/> with the job's seed, compute vPods in ordinal id order get parts 0, 1, …, and every
/// validator gets the held-out test split. Placing again with the same inputs rewrites the same bytes, so a job that resumes
/// after a silo loss can simply place again.
/// </summary>
public static class FederatedDataPlacement
{
    public static DataPlacement Place(
        FederatedJobSpec spec,
        TabularDataset data,
        IReadOnlyCollection<string> computeVPods,
        IReadOnlyCollection<string> validatorVPods,
        Func<string, string> dataDirectoryOf)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(computeVPods);
        ArgumentNullException.ThrowIfNull(validatorVPods);
        ArgumentNullException.ThrowIfNull(dataDirectoryOf);
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
        for (var i = 0; i < compute.Count; i++)
        {
            PartitionWriter.Write(dataDirectoryOf(compute[i]), new PartitionDescription(data.Name, partition, i, compute.Count, spec.Seed), plan.Parts[i], null);
            trainRows[compute[i]] = plan.Parts[i].Rows;
        }

        for (var i = 0; i < validators.Count; i++)
        {
            PartitionWriter.Write(
                dataDirectoryOf(validators[i]),
                new PartitionDescription(data.Name, "test:" + spec.TestFraction.ToString("R", CultureInfo.InvariantCulture), i, validators.Count, spec.Seed),
                null,
                plan.Test);
        }

        return new DataPlacement(trainRows, plan.Test.Rows, data.Features, data.Classes);
    }
}
