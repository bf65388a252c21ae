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

    /// <summary>
    /// One activation per key, placed like any keyed grain (<c>GetGrain&lt;IPingGrain&gt;(Placed(index))</c>). Its keys are the
    /// numbers below <see cref="PlacedKeys"/>, so no caller can make the cluster hold more than that many of them.
    /// </summary>
    public const string PlacedType = "client-ping-placed";

    /// <summary>How many placed ping grains there can be: their keys are 0 to this less one.</summary>
    public const int PlacedKeys = 1_024;

    /// <summary>The id of placed ping grain <paramref name="index"/> (0 to <see cref="PlacedKeys"/> less one).</summary>
    public static GrainId Placed(int index) =>
        index is >= 0 and < PlacedKeys
            ? GrainId.Create(PlacedType, index.ToString(System.Globalization.CultureInfo.InvariantCulture))
            : throw new ArgumentOutOfRangeException(nameof(index), index, $"A placed ping grain's index is 0-{PlacedKeys - 1}.");

    /// <summary>Whether <paramref name="key"/> is one of the placed ping grains' keys (the canonical form of 0 to <see cref="PlacedKeys"/> less one).</summary>
    public static bool IsPlacedKey(string key) =>
        int.TryParse(key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index)
        && index < PlacedKeys
        && key == index.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
