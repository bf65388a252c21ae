namespace MetaNode.Proofs;

/// <summary>What a proof verifier reads from an Ethereum node: plain JSON-RPC, nothing from an archive.</summary>
public interface IProofChain
{
    Task<long> GetChainIdAsync(CancellationToken cancellationToken);

    /// <summary>The code at <paramref name="address"/> now (empty when none).</summary>
    Task<byte[]> GetCodeAsync(string address, CancellationToken cancellationToken);

    /// <summary>The transaction's receipt, or null when the node knows no such transaction.</summary>
    Task<ProofTransactionReceipt?> GetTransactionReceiptAsync(string transactionHash, CancellationToken cancellationToken);

    /// <summary>The hash of the canonical block at <paramref name="number"/>, or null when there is none.</summary>
    Task<string?> GetBlockHashAsync(long number, CancellationToken cancellationToken);

    /// <summary>The logs of <paramref name="address"/> with first topic <paramref name="topic0"/> in blocks <paramref name="fromBlock"/>..<paramref name="toBlock"/>.</summary>
    Task<IReadOnlyList<ProofLog>> GetLogsAsync(string address, string topic0, long fromBlock, long toBlock, CancellationToken cancellationToken);

    /// <summary><c>eth_call</c> at the latest block.</summary>
    Task<byte[]> CallAsync(string to, byte[] data, CancellationToken cancellationToken);
}

/// <summary>A transaction receipt's fields a verifier checks (addresses and hashes lower case).</summary>
public sealed record ProofTransactionReceipt(
    string TransactionHash,
    bool Succeeded,
    string? To,
    string? ContractAddress,
    long BlockNumber,
    string BlockHash,
    IReadOnlyList<ProofLog> Logs);

/// <summary>One log (address, topics and hashes lower case).</summary>
public sealed record ProofLog(string Address, IReadOnlyList<string> Topics, byte[] Data, long BlockNumber, long LogIndex, string TransactionHash);
