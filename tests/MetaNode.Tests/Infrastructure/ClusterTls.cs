using MetaNode.Silo.Hosting;

namespace MetaNode.Tests.Infrastructure;

/// <summary>Certificates for cluster-profile test silos, made the way `metanode-silo tls init` makes them: a CA, a silo certificate and an admin identity.</summary>
public sealed class ClusterTls
{
    private ClusterTls(string directory) => Directory = directory;

    public string Directory { get; }

    public string AdminIdentity => Path.Combine(Directory, "admin");

    /// <summary>The silo settings that point at the files.</summary>
    public string[] Settings =>
    [
        $"--MetaNode:Tls:CaCertificate={Path.Combine(Directory, "ca.crt")}",
        $"--MetaNode:Tls:CaKey={Path.Combine(Directory, "ca.key")}",
        $"--MetaNode:Tls:Certificate={Path.Combine(Directory, "silo.crt")}",
        $"--MetaNode:Tls:Key={Path.Combine(Directory, "silo.key")}",
    ];

    public static ClusterTls Create(string directory, string clusterId = "metanode")
    {
        SiloSecurity.Init(directory, clusterId, ["127.0.0.1", "localhost"]);
        return new ClusterTls(directory);
    }
}
