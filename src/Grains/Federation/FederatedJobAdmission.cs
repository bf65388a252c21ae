using System.Text.RegularExpressions;
using MetaNode.Chain;
using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.VPods;

namespace MetaNode.Grains.Federation;

/// <summary>
/// Whether a federated job may start, as pure functions over what the grain gathered: its id, its clusters, its validators against
/// the registry's set, and the addresses its vPods proved. Each returns the problems to report (empty or null when there is none);
/// the grain refuses the job with all of them and records nothing.
/// </summary>
public static class FederatedJobAdmission
{
    private static readonly Regex JobIdPattern = new("^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$", RegexOptions.CultureInvariant);

    /// <summary>Why the job id cannot be a job's (it is recorded on chain as bytes32), or null.</summary>
    public static string? JobIdProblem(string jobId) =>
        JobIdPattern.IsMatch(jobId)
            ? null
            : $"job id '{jobId}' is invalid: use 2-32 lower-case letters, digits or '-' (it is recorded on chain as bytes32).";

    /// <summary>What the job reports for a cluster that does not exist (or is deleted).</summary>
    public static string ClusterMissing(string cluster) =>
        $"cluster '{cluster}' does not exist: deploy it with 'metanode-cli cluster deploy'.";

    /// <summary>Why the cluster cannot serve the job as <paramref name="type"/> vPods, or null.</summary>
    public static string? ClusterProblem(string cluster, ClusterStatus status, VPodType type)
    {
        ArgumentNullException.ThrowIfNull(status);
        if (status.Phase is ClusterPhase.None or ClusterPhase.Deleted or ClusterPhase.Deleting || status.Spec is null)
        {
            return ClusterMissing(cluster);
        }

        return status.Spec.MemberType != type
            ? $"cluster '{cluster}' has {status.Spec.MemberType.ToString().ToLowerInvariant()} vPods; this job needs {type.ToString().ToLowerInvariant()} vPods there."
            : null;
    }

    /// <summary>The cluster's member vPod ids in ordinal order.</summary>
    public static List<string> Members(ClusterStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        return status.Members.Select(m => m.Id).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Why the registry's validator set cannot finalize the job's rounds: a validator vPod whose proved address is not in the set,
    /// or a quorum below the set's threshold.
    /// </summary>
    public static IEnumerable<string> ValidatorSetProblems(
        IReadOnlyList<string> validators,
        IReadOnlyDictionary<string, VPodStatus> proven,
        ValidatorSet set,
        int quorum)
    {
        ArgumentNullException.ThrowIfNull(validators);
        ArgumentNullException.ThrowIfNull(proven);
        ArgumentNullException.ThrowIfNull(set);
        var outside = validators.Where(id => !set.Validators.Any(v => string.Equals(v.Address, proven[id].Address, StringComparison.OrdinalIgnoreCase))).ToList();
        if (outside.Count > 0)
        {
            yield return $"validator vPod(s) {string.Join(", ", outside)} are not in the registry's validator set: run 'metanode-cli chain deploy' to deploy a registry for the validator vPods.";
        }

        if (quorum < set.Threshold)
        {
            yield return $"quorum '{quorum}' is below the registry's threshold of {set.Threshold} signatures.";
        }
    }

    /// <summary>What the job reports when its data set cannot be read.</summary>
    public static string DatasetProblem(string dataset, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return $"dataset '{dataset}': {exception.Message}";
    }

    /// <summary>Whether a failure to read the data set is the data set's (reported with the job's other problems) rather than the silo's.</summary>
    public static bool IsDatasetProblem(Exception exception) =>
        exception is InvalidDatasetException or IOException or UnauthorizedAccessException;

    /// <summary>vPod id → the address its workload proved, lower-case (what receipts and votes must recover to).</summary>
    public static Dictionary<string, string> Addresses(IReadOnlyDictionary<string, VPodStatus> proven)
    {
        ArgumentNullException.ThrowIfNull(proven);
        return proven.ToDictionary(s => s.Key, s => s.Value.Address!.ToLowerInvariant(), StringComparer.Ordinal);
    }
}
