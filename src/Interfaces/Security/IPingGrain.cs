namespace MetaNode.Security;

/// <summary>
/// An empty call any viewer may make: it crosses the gateway, TLS and the role filter like every other call and does nothing
/// else, so a client can check that it reaches the cluster, and a benchmark has the floor a real call is compared with.
/// </summary>
[Alias("MetaNode.Security.IPingGrain")]
public interface IPingGrain : IGrainWithStringKey
{
    [Alias("Ping"), RequiresRole(AccessRole.Viewer)]
    Task PingAsync(CancellationToken cancellationToken = default);
}

/// <summary>The key clients ping under (any key works: the grain is a stateless worker).</summary>
public static class PingKeys
{
    public const string Default = "default";
}
