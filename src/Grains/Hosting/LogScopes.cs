using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Hosting;

/// <summary>
/// Log scopes that name what a log line is about: every incoming call to a vPod, cluster, job or worker grain runs in a scope
/// carrying its vPod id, cluster or job id (and a job's round, from the job itself), so a JSON log line can be filtered by them.
/// </summary>
public static class LogScopes
{
    public const string VPodId = "VPodId";
    public const string Cluster = "Cluster";
    public const string JobId = "JobId";
    public const string Round = "Round";

    private static readonly GrainType VPodGrain = GrainType.Create("vpod");
    private static readonly GrainType ComputeWorker = GrainType.Create("federated-compute");
    private static readonly GrainType ClusterGrain = GrainType.Create("vpod-cluster");
    private static readonly GrainType LeaderLease = GrainType.Create("leader-lease");
    private static readonly GrainType JobGrain = GrainType.Create("federated-job");
    private static readonly GrainType ValidatorWorker = GrainType.Create("federated-validator");

    /// <summary>Whether calls to grains of <paramref name="type"/> have a scope (pure).</summary>
    public static bool HasScope(GrainType type) =>
        type.Equals(VPodGrain) || type.Equals(ComputeWorker) || type.Equals(ClusterGrain) || type.Equals(LeaderLease) || type.Equals(JobGrain) || type.Equals(ValidatorWorker);

    /// <summary>
    /// The scope of a call to the grain (pure): null for grains that are about nothing a user names (<see cref="HasScope"/> false).
    /// <see cref="LogScopeFilter"/> works it out once per activation.
    /// </summary>
    public static KeyValuePair<string, object?>[]? For(GrainId grain)
    {
        var type = grain.Type;
        if (type.Equals(VPodGrain) || type.Equals(ComputeWorker))
        {
            return [new(VPodId, grain.Key.ToString())];
        }

        if (type.Equals(ClusterGrain) || type.Equals(LeaderLease))
        {
            return [new(Cluster, grain.Key.ToString())];
        }

        if (type.Equals(JobGrain))
        {
            return [new(JobId, grain.Key.ToString())];
        }

        if (type.Equals(ValidatorWorker))
        {
            // A validator's worker is keyed job/vPod.
            var key = grain.Key.ToString();
            var slash = key.IndexOf('/', StringComparison.Ordinal);
            return slash > 0 ? [new(JobId, key[..slash]), new(VPodId, key[(slash + 1)..])] : null;
        }

        return null;
    }

    /// <summary>A job's round, for the lines its round machine writes.</summary>
    public static IDisposable? BeginRound(this ILogger logger, string jobId, int round) =>
        logger.BeginScope(new KeyValuePair<string, object?>[] { new(JobId, jobId), new(Round, round) });

    public static IDisposable? BeginVPod(this ILogger logger, string vpodId) =>
        logger.BeginScope(new KeyValuePair<string, object?>[] { new(VPodId, vpodId) });
}

/// <summary>
/// Opens <see cref="LogScopes.For"/>'s scope around each incoming grain call. A grain's scope is worked out once per activation and
/// kept on it, so a call pays for opening the scope only, not for decoding the key and building the scope again.
/// </summary>
public sealed class LogScopeFilter(ILogger<LogScopeFilter> logger) : IIncomingGrainCallFilter
{
    public Task Invoke(IIncomingGrainCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return ScopeOf(context) is { } scope ? InvokeInScopeAsync(context, scope) : context.Invoke();
    }

    private async Task InvokeInScopeAsync(IIncomingGrainCallContext context, KeyValuePair<string, object?>[] scope)
    {
        using (logger.BeginScope(scope))
        {
            await context.Invoke();
        }
    }

    private static KeyValuePair<string, object?>[]? ScopeOf(IIncomingGrainCallContext context)
    {
        if (!LogScopes.HasScope(context.TargetId.Type))
        {
            return null;
        }

        var activation = context.TargetContext;
        if (activation.GetComponent<ActivationScope>() is { } known)
        {
            return known.Scope;
        }

        var computed = new ActivationScope(LogScopes.For(context.TargetId));
        activation.SetComponent(computed);
        return computed.Scope;
    }

    /// <summary>An activation's scope (null: none), as kept on the activation.</summary>
    private sealed record ActivationScope(KeyValuePair<string, object?>[]? Scope);
}
