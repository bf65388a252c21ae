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

    /// <summary>The scope of a call to the grain (pure): null for grains that are about nothing a user names.</summary>
    public static KeyValuePair<string, object?>[]? For(GrainId grain)
    {
        var type = grain.Type.ToString();
        var key = grain.Key.ToString();
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return type switch
        {
            "vpod" or "federated-compute" => [new(VPodId, key)],
            "vpod-cluster" or "leader-lease" => [new(Cluster, key)],
            "federated-job" => [new(JobId, key)],
            // A validator's worker is keyed job/vPod.
            "federated-validator" when slash > 0 => [new(JobId, key[..slash]), new(VPodId, key[(slash + 1)..])],
            _ => null,
        };
    }

    /// <summary>A job's round, for the lines its round machine writes.</summary>
    public static IDisposable? BeginRound(this ILogger logger, string jobId, int round) =>
        logger.BeginScope(new KeyValuePair<string, object?>[] { new(JobId, jobId), new(Round, round) });

    public static IDisposable? BeginVPod(this ILogger logger, string vpodId) =>
        logger.BeginScope(new KeyValuePair<string, object?>[] { new(VPodId, vpodId) });
}

/// <summary>Opens <see cref="LogScopes.For"/>'s scope around each incoming grain call.</summary>
public sealed class LogScopeFilter(ILogger<LogScopeFilter> logger) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (LogScopes.For(context.TargetId) is not { } scope)
        {
            await context.Invoke();
            return;
        }

        using (logger.BeginScope(scope))
        {
            await context.Invoke();
        }
    }
}
