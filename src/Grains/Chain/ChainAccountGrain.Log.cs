using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Chain;

public sealed partial class ChainAccountGrain
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Chain account {Account}: sending {What} (nonce {Nonce}, gas limit {GasLimit}) as {TransactionHash}")]
    private static partial void LogSubmitting(ILogger logger, string what, string account, long nonce, long gasLimit, string transactionHash);

    [LoggerMessage(Level = LogLevel.Information, Message = "Chain account {Account}: resuming {Operation} (nonce {Nonce}, {TransactionHash}) recorded before")]
    private static partial void LogResuming(ILogger logger, string account, string operation, long nonce, string transactionHash);

    [LoggerMessage(Level = LogLevel.Information, Message = "Round {JobId}/{Round} finalized by {TransactionHash} in block {Block} ({GasUsed} gas)")]
    private static partial void LogFinalized(ILogger logger, string jobId, long round, string transactionHash, long block, long gasUsed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Round {JobId}/{Round} is already finalized (block {Block}); chain account {Account} sends nothing")]
    private static partial void LogAlreadyFinalized(ILogger logger, string jobId, long round, long block, string account);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Chain account {Account}: the node does not know transaction {TransactionHash} (nonce {Nonce}), e.g. after a node restart; sending it again")]
    private static partial void LogRebroadcast(ILogger logger, string account, long nonce, string transactionHash);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Chain account {Account}: transaction with nonce {Nonce} is stuck; replacement {Replacement} with higher fees is {TransactionHash}")]
    private static partial void LogReplacing(ILogger logger, string account, long nonce, int replacement, string transactionHash);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Chain account {Account}: nonce {Nonce} is already used; waiting for the receipt of an earlier version")]
    private static partial void LogNonceTooLow(ILogger logger, string account, long nonce);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Chain account {Account}: nonce {Nonce} was consumed by a transaction that is not {Operation}; preparing it again with a new nonce")]
    private static partial void LogNonceTaken(ILogger logger, string account, long nonce, string operation);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Chain account {Account}: its balance could not be read: {Error}")]
    private static partial void LogBalanceUnknown(ILogger logger, string account, string error);
}
