namespace MetaNode.Clusters;

/// <summary>A cluster specification or request was rejected; nothing changed. The message names the field and the bad value.</summary>
[GenerateSerializer, Alias("MetaNode.Clusters.InvalidClusterSpecException")]
public sealed class InvalidClusterSpecException : Exception
{
    public InvalidClusterSpecException(string message)
        : base(message)
    {
    }
}

/// <summary>No cluster with this name exists (or it was deleted).</summary>
[GenerateSerializer, Alias("MetaNode.Clusters.ClusterNotFoundException")]
public sealed class ClusterNotFoundException : Exception
{
    public ClusterNotFoundException(string cluster)
        : base($"cluster '{cluster}' does not exist.")
    {
        Cluster = cluster;
    }

    [Id(0)] public string Cluster { get; }
}

/// <summary>A deploy or scale would take the cluster past its resource quota; nothing changed.</summary>
[GenerateSerializer, Alias("MetaNode.Clusters.ClusterQuotaExceededException")]
public sealed class ClusterQuotaExceededException : Exception
{
    public ClusterQuotaExceededException(string cluster, string message)
        : base($"cluster '{cluster}' quota exceeded: {message}")
    {
        Cluster = cluster;
    }

    [Id(0)] public string Cluster { get; }
}

/// <summary>A command carried a leader term older than one the target already accepted: it came from a deposed leader and was rejected.</summary>
[GenerateSerializer, Alias("MetaNode.Clusters.StaleLeaderTermException")]
public sealed class StaleLeaderTermException : Exception
{
    public StaleLeaderTermException(string scope, long term, long currentTerm)
        : base($"'{scope}' rejected a command from leader term {term}: term {currentTerm} is current.")
    {
        Scope = scope;
        Term = term;
        CurrentTerm = currentTerm;
    }

    [Id(0)] public string Scope { get; }
    [Id(1)] public long Term { get; }
    [Id(2)] public long CurrentTerm { get; }
}

/// <summary>A command carried a leader term (and leader) that the cluster's lease never issued; it was rejected and nothing changed.</summary>
[GenerateSerializer, Alias("MetaNode.Clusters.UnissuedLeaderTermException")]
public sealed class UnissuedLeaderTermException : Exception
{
    public UnissuedLeaderTermException(string scope, string leader, long term)
        : base($"'{scope}' rejected a command from '{leader}' with term {term}: its lease never issued that term to that leader.")
    {
        Scope = scope;
        Leader = leader;
        Term = term;
    }

    [Id(0)] public string Scope { get; }
    [Id(1)] public string Leader { get; }
    [Id(2)] public long Term { get; }
}
