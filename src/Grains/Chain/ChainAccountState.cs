namespace MetaNode.Grains.Chain;

/// <summary>The persisted record of one chain account: the next nonce, transactions in flight, totals.</summary>
[GenerateSerializer, Alias("MetaNode.Chain.ChainAccountState")]
public sealed class ChainAccountState
{
    /// <summary>The next nonce this grain will use (-1: ask the node).</summary>
    [Id(0)] public long NextNonce { get; set; } = -1;

    /// <summary>Transactions sent and not yet confirmed, by operation key (e.g. <c>finalize:registry:job:round</c>).</summary>
    [Id(1)] public Dictionary<string, PendingTransaction> Pending { get; set; } = new(StringComparer.Ordinal);

    [Id(2)] public long Submitted { get; set; }
    [Id(3)] public long Confirmed { get; set; }
    [Id(4)] public long GasUsed { get; set; }
    [Id(5)] public long? LastBlockSeen { get; set; }
}

/// <summary>A transaction in flight: every signed version of it (replacements share the nonce), persisted before it is sent.</summary>
[GenerateSerializer, Alias("MetaNode.Chain.PendingTransaction")]
public sealed class PendingTransaction
{
    [Id(0)] public required string Operation { get; set; }
    [Id(1)] public long Nonce { get; set; }
    [Id(2)] public string? To { get; set; }
    [Id(3)] public required string Data { get; set; }
    [Id(4)] public long GasLimit { get; set; }
    /// <summary>Fees in wei as decimal strings.</summary>
    [Id(5)] public required string MaxFeePerGas { get; set; }
    [Id(6)] public required string MaxPriorityFeePerGas { get; set; }
    [Id(7)] public List<string> Hashes { get; set; } = [];
    /// <summary>The latest signed version, re-broadcast when the node has forgotten it (a restarted dev chain).</summary>
    [Id(8)] public required string RawTransaction { get; set; }
    [Id(9)] public DateTimeOffset FirstSentAt { get; set; }
    [Id(10)] public DateTimeOffset LastSentAt { get; set; }
    [Id(11)] public int Replacements { get; set; }
}
