using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Chain;

public sealed partial class ChainConnector
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Chain connector: {RpcUrl} (chain id {ChainId}, registry {Registry}, dev chain {DevChain})")]
    private static partial void LogConfigured(ILogger logger, string rpcUrl, long chainId, string registry, bool devChain);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Chain RPC {Operation} failed (attempt {Attempt} of {Retries}); retrying in {Delay}: {Error}")]
    private static partial void LogRpcRetry(ILogger logger, string operation, int attempt, int retries, TimeSpan delay, string error);
}
