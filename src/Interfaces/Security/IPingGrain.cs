namespace MetaNode.Security;

/// <summary>
/// An empty call any viewer may make: it crosses the gateway, TLS and the role filter like every other call and does nothing
/// else, so a client can check that it reaches the cluster, and a benchmark has the floor a real call is compared with.
/// </summary>
[Alias("MetaNode.Security.IPingGrain"), Orleans.Metadata.DefaultGrainType(PingKeys.GatewayType)]
public interface IPingGrain : IGrainWithStringKey
{
    [Alias("Ping"), RequiresRole(AccessRole.Viewer)]
    Task PingAsync(CancellationToken cancellationToken = default);
}

/// <summary>The key clients ping under (any key works), and the two grain types that answer.</summary>
public static class PingKeys
{
    public const string Default = "default";

    /// <summary>The default: a stateless worker on whichever silo's gateway the call reached.</summary>
    public const string GatewayType = "client-ping";

    /// <summary>One activation per key, placed like any keyed grain (<c>GetGrain&lt;IPingGrain&gt;(Placed(key))</c>).</summary>
    public const string PlacedType = "client-ping-placed";

    /// <summary>The id of the placed ping grain under <paramref name="key"/>.</summary>
    public static GrainId Placed(string key) => GrainId.Create(PlacedType, key);
}
