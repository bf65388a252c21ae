namespace MetaNode.Client;

/// <summary>How <see cref="MetaNodeClient"/> finds and joins a MetaNode cluster.</summary>
public sealed class MetaNodeClientOptions
{
    public const string DefaultGateway = "127.0.0.1:30000";
    public const string DefaultClusterId = "metanode";
    public const string DefaultServiceId = "metanode";

    /// <summary>Silo gateways as <c>host:port</c> (IPv6 as <c>[::1]:30000</c>). Used when <see cref="ConnectionString"/> is not set.</summary>
    public IList<string> Gateways { get; set; } = [DefaultGateway];

    /// <summary>PostgreSQL connection string of the cluster's membership database; when set, gateways are read from its clustering table.</summary>
    public string? ConnectionString { get; set; }

    public string ClusterId { get; set; } = DefaultClusterId;

    public string ServiceId { get; set; } = DefaultServiceId;

    /// <summary>How long to keep trying to reach a gateway before giving up.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The identity directory (certificate, key, cluster CA and credential) the client connects and calls with. Unset: the
    /// <c>METANODE_IDENTITY</c> environment variable, else <c>~/.metanode/identities/&lt;host&gt;_&lt;port&gt;</c> of the first
    /// gateway when it exists, else none (only a silo run with <c>MetaNode:Tls:Insecure</c> accepts that).
    /// </summary>
    public string? Identity { get; set; }

    /// <summary>Where the default identity directories live; unset: <c>~/.metanode/identities</c>.</summary>
    public string? IdentityHome { get; set; }

    /// <summary>True when gateways come from the clustering database rather than <see cref="Gateways"/>.</summary>
    public bool UsesDatabaseClustering => !string.IsNullOrWhiteSpace(ConnectionString);
}
