using MetaNode.Chain;
using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.Grains.VPods;
using MetaNode.VPods;

namespace MetaNode.Grains.Federation;

/// <summary>
/// Admitting a job: the grain gathers its clusters, its vPods' proofs of identity, the registry's validator set and its data set;
/// <see cref="FederatedJobAdmission"/> decides what is wrong with them.
/// </summary>
public sealed partial class FederatedJobGrain
{
    /// <summary>Checks the spec, the clusters and the chain; nothing is recorded when any check fails.</summary>
    private async Task<(List<string> Compute, List<string> Validators, Dictionary<string, string> Addresses, int Threshold)> CheckAsync(FederatedJobSpec spec, CancellationToken cancellationToken)
    {
        var errors = FederatedJobSpecParser.Validate(spec).ToList();
        if (FederatedJobAdmission.JobIdProblem(JobId) is { } badId)
        {
            errors.Add(badId);
        }

        if (errors.Count > 0)
        {
            throw new InvalidJobSpecException(errors);
        }

        // Several compute clusters (say one per workload language) train as one: their members, in vPod id order as the partitioning expects.
        var compute = new List<string>();
        var clusterSpecs = new List<ClusterSpec>();
        foreach (var cluster in FederatedJobSpecParser.ComputeClusters(spec))
        {
            compute.AddRange(await MembersAsync(cluster, VPodType.Compute, errors, cancellationToken, clusterSpecs));
        }

        var threshold = FederatedJobStateMachine.SecurityThreshold(spec, clusterSpecs, compute.Distinct(StringComparer.Ordinal).Count(), errors);

        compute = compute.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var validators = await MembersAsync(spec.ValidatorCluster, VPodType.Validator, errors, cancellationToken);
        if (spec.StorageCluster is { } storageCluster)
        {
            await MembersAsync(storageCluster, VPodType.Storage, errors, cancellationToken);
        }

        if (errors.Count == 0)
        {
            errors.AddRange(FederatedJobSpecParser.ValidateAgainstClusters(spec, compute.Count, validators.Count));
        }

        // Every vPod proves now, over a fresh nonce, the key its workload holds; a vPod that cannot (no workload protocol, a changed
        // key not yet admitted, not running) is named and the job is refused.
        IReadOnlyDictionary<string, VPodStatus> statuses = new Dictionary<string, VPodStatus>();
        if (errors.Count == 0)
        {
            var proven = await VPodIdentityChecks.ProveAsync(GrainFactory, compute.Concat(validators), cancellationToken);
            errors.AddRange(proven.Refusals);
            statuses = proven.Proven;
        }

        if (errors.Count == 0)
        {
            var set = await GrainFactory.GetGrain<IChainGrain>(ChainKeys.Default).GetValidatorsAsync(cancellationToken);
            errors.AddRange(FederatedJobAdmission.ValidatorSetProblems(validators, statuses, set, spec.Quorum));
        }

        if (errors.Count == 0)
        {
            try
            {
                await LoadDatasetAsync(spec, cancellationToken);
            }
            catch (Exception exception) when (FederatedJobAdmission.IsDatasetProblem(exception))
            {
                errors.Add(FederatedJobAdmission.DatasetProblem(spec.Dataset, exception));
            }
        }

        return errors.Count > 0
            ? throw new InvalidJobSpecException(errors)
            : (compute, validators, FederatedJobAdmission.Addresses(statuses), threshold);
    }

    /// <summary>
    /// The job's data: an upload from its content-addressed grain, else a built-in set or a file under the data set root. The file
    /// is read and parsed on the thread pool (<see cref="FederatedJobDatasetLoader"/>); this turn only awaits it.
    /// </summary>
    private Task<TabularDataset> LoadDatasetAsync(FederatedJobSpec spec, CancellationToken cancellationToken) =>
        FederatedJobDatasetLoader.LoadAsync(
            spec.Dataset,
            spec.Seed,
            _options.DatasetBaseDirectory,
            _datasets,
            (hash, token) => GrainFactory.GetGrain<IFederatedDatasetGrain>(hash).GetAsync(token),
            cancellationToken);

    private async Task<List<string>> MembersAsync(string cluster, VPodType type, List<string> errors, CancellationToken cancellationToken, List<ClusterSpec>? specs = null)
    {
        ClusterStatus status;
        try
        {
            status = await GrainFactory.GetGrain<IVPodClusterGrain>(cluster).GetStatusAsync(cancellationToken);
        }
        catch (ClusterNotFoundException)
        {
            errors.Add(FederatedJobAdmission.ClusterMissing(cluster));
            return [];
        }

        if (FederatedJobAdmission.ClusterProblem(cluster, status, type) is { } problem)
        {
            errors.Add(problem);
            return [];
        }

        specs?.Add(status.Spec!);
        return FederatedJobAdmission.Members(status);
    }
}
