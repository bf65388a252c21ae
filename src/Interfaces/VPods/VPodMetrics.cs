namespace MetaNode.VPods;

[GenerateSerializer, Immutable, Alias("MetaNode.VPods.ResourceUsage")]
public sealed record ResourceUsage(
    [property: Id(0)] double CpuPercent,
    [property: Id(1)] long MemoryBytes,
    [property: Id(2)] long MemoryLimitBytes);

[GenerateSerializer, Immutable, Alias("MetaNode.VPods.NetworkUsage")]
public sealed record NetworkUsage(
    [property: Id(0)] long RxBytes,
    [property: Id(1)] long TxBytes);

/// <summary>On-chain activity of the vPod's account (filled once the chain connector is configured).</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.VPods.BlockchainUsage")]
public sealed record BlockchainUsage
{
    [Id(0)] public string? Address { get; init; }
    [Id(1)] public long TransactionsSubmitted { get; init; }
    [Id(2)] public long TransactionsConfirmed { get; init; }
    [Id(3)] public long GasUsed { get; init; }
    [Id(4)] public long? LastBlockSeen { get; init; }
    [Id(5)] public double? RpcLatencyMs { get; init; }
}

/// <summary>What <c>vpod metrics</c> shows.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.VPods.VPodMetrics")]
public sealed record VPodMetrics
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public VPodPhase Phase { get; init; }
    [Id(2)] public ResourceUsage Resources { get; init; } = new(0, 0, 0);
    [Id(3)] public NetworkUsage Network { get; init; } = new(0, 0);
    [Id(4)] public BlockchainUsage Blockchain { get; init; } = new();
    [Id(5)] public DateTimeOffset CollectedAt { get; init; }
}
