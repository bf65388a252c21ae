namespace MetaNode.Federation;

[GenerateSerializer, Alias("MetaNode.Federation.FederatedAlgorithm")]
public enum FederatedAlgorithm
{
    None = 0,
    FederatedAverage = 1,
    SecureAggregation = 2,
}

/// <summary>A federated job as submitted: what to learn from, how to split it, how to train and aggregate, and how rounds close. Checked by <see cref="FederatedJobSpecParser"/>.</summary>
[GenerateSerializer, Alias("MetaNode.Federation.FederatedJobSpec")]
public sealed record FederatedJobSpec
{
    [Id(0)] public FederatedAlgorithm Algorithm { get; init; } = FederatedAlgorithm.FederatedAverage;
    [Id(1)] public required string ComputeCluster { get; init; }
    [Id(2)] public required string ValidatorCluster { get; init; }
    /// <summary>
    /// <c>digits</c>, <c>synthetic</c>, <c>sha256:HEX</c> (a CSV file uploaded with <see cref="IFederatedDatasetGrain"/>), or the
    /// path of a CSV file (features…, label) relative to the silo's <c>MetaNode:Datasets:Root</c> (see <see cref="DatasetReferences"/>).
    /// </summary>
    [Id(3)] public required string Dataset { get; init; }
    [Id(4)] public PartitionScheme Partition { get; init; } = PartitionScheme.Iid;
    [Id(5)] public int Rounds { get; init; } = 10;
    [Id(6)] public int LocalEpochs { get; init; } = 5;
    [Id(7)] public int BatchSize { get; init; } = 16;
    [Id(8)] public double LearningRate { get; init; } = 0.1;
    /// <summary>Fewest updates a round closes with at its deadline.</summary>
    [Id(9)] public int MinParticipants { get; init; } = 1;
    [Id(10)] public TimeSpan RoundDeadline { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Validators that must sign the same result hash (k of n).</summary>
    [Id(11)] public int Quorum { get; init; } = 1;
    [Id(12)] public ulong Seed { get; init; } = FederatedJobSpecParser.DefaultSeed;
    [Id(13)] public AggregationRule Robust { get; init; } = AggregationRule.FederatedAverage;
    /// <summary>Share of the data set held out for the validators' evaluation.</summary>
    [Id(14)] public double TestFraction { get; init; } = 0.2;
    /// <summary>Secure aggregation: t, how many compute vPods must take part to unmask a round; null: a majority of them.</summary>
    [Id(15)] public int? SecurityThreshold { get; init; }
    /// <summary>Encryption end to end. Secure aggregation always seals its shares; with federated-average it is refused (not available).</summary>
    [Id(16)] public bool Encryption { get; init; }
    /// <summary>A storage cluster where every round's model and round record are stored and pinned, by CID; null: none.</summary>
    [Id(20)] public string? StorageCluster { get; init; }
    /// <summary>The server optimizer every validator applies to a round's aggregate (default FedAvgM, <see cref="ServerOptimizer.Default"/>); null: <c>avg</c>.</summary>
    [Id(21)] public ServerOptimizer? ServerOptimizer { get; init; } = ServerOptimizer.Default;
    /// <summary>FedProx's μ: the proximal term's weight in local training (0: plain SGD).</summary>
    [Id(22)] public double ProximalMu { get; init; }
}

/// <summary>The job options as typed (e.g. on the command line); null means the default.</summary>
public sealed record FederatedJobArguments
{
    public string? Algorithm { get; init; }
    public string? ComputeCluster { get; init; }
    public string? ValidatorCluster { get; init; }
    public string? Dataset { get; init; }
    public string? Partition { get; init; }
    public string? Rounds { get; init; }
    public string? LocalEpochs { get; init; }
    public string? BatchSize { get; init; }
    public string? LearningRate { get; init; }
    public string? MinParticipants { get; init; }
    public string? RoundDeadline { get; init; }
    public string? Quorum { get; init; }
    public string? Seed { get; init; }
    public string? Robust { get; init; }
    public string? TestFraction { get; init; }
    public string? SecurityThreshold { get; init; }
    public bool Encryption { get; init; }
    public string? StorageCluster { get; init; }
    public string? ServerOptimizer { get; init; }
    public string? ServerLearningRate { get; init; }
    public string? ServerMomentum { get; init; }
    public string? ProximalMu { get; init; }
}
