namespace MetaNode.Chain;

/// <summary>No chain is configured on this silo, or the dev chain could not start; the message says why and what to do.</summary>
[GenerateSerializer, Alias("MetaNode.Chain.ChainUnavailableException")]
public sealed class ChainUnavailableException : Exception
{
    public ChainUnavailableException(string message)
        : base(message)
    {
    }
}

/// <summary>The registry rejected a call; <see cref="Reason"/> is the decoded custom error, e.g. <c>NotAValidator(index=0, signer=0x...)</c>.</summary>
[GenerateSerializer, Alias("MetaNode.Chain.ChainRevertException")]
public sealed class ChainRevertException : Exception
{
    public ChainRevertException(string operation, string reason)
        : base($"{operation} was rejected by the contract: {reason}")
    {
        Operation = operation;
        Reason = reason;
    }

    [Id(0)] public string Operation { get; }
    [Id(1)] public string Reason { get; }
}

/// <summary>A chain request was invalid (bad hash, job id too long, too few validator vPods); nothing was sent.</summary>
[GenerateSerializer, Alias("MetaNode.Chain.InvalidChainRequestException")]
public sealed class InvalidChainRequestException : Exception
{
    public InvalidChainRequestException(string message)
        : base(message)
    {
    }
}

/// <summary>A transaction could not be confirmed within the configured retries and replacements; it may still be mined later.</summary>
[GenerateSerializer, Alias("MetaNode.Chain.ChainTransactionException")]
public sealed class ChainTransactionException : Exception
{
    public ChainTransactionException(string message, string? transactionHash = null)
        : base(message)
    {
        TransactionHash = transactionHash;
    }

    [Id(0)] public string? TransactionHash { get; }
}

/// <summary><c>chain finalize</c> named a result that no validator's workload signed: there is nothing to re-submit, and nothing was sent.</summary>
[GenerateSerializer, Alias("MetaNode.Chain.UnsignedRoundException")]
public sealed class UnsignedRoundException : Exception
{
    public UnsignedRoundException(string message)
        : base(message)
    {
    }
}
