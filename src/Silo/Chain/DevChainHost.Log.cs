namespace MetaNode.Silo.Chain;

public sealed partial class DevChainHost
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Dev chain: anvil on {RpcUrl}, ResultRegistry {Registry}, state kept in {StateFile}")]
    private static partial void LogStarted(ILogger logger, string rpcUrl, string registry, string stateFile);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dev chain: deployed the ResultRegistry at {Registry} (validator set: the operator {Operator}; use 'metanode-cli chain deploy' for validator vPods)")]
    private static partial void LogDeployed(ILogger logger, string registry, string @operator);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The dev chain's registry {Registry} runs another ResultRegistry than this version's ({Mismatch}); deploying this version's")]
    private static partial void LogOtherRegistryCode(ILogger logger, string registry, string mismatch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dev chain: the registry {Registry} recorded in the data directory is not on the chain (the state in {StateFile} was lost or reset); deploying a new one. Rounds finalized before are gone with the old state")]
    private static partial void LogStateLost(ILogger logger, string registry, string stateFile);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dev chain: installing {Package} into {ToolsDirectory} (first use)")]
    private static partial void LogInstalling(ILogger logger, string package, string toolsDirectory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dev chain: npm is not installed, so anvil cannot be installed; chain features are off. Install Node.js and npm, or set MetaNode:Chain:RpcUrl")]
    private static partial void LogNoNpm(ILogger logger);

    [LoggerMessage(Level = LogLevel.Error, Message = "Dev chain could not start; the silo runs with chain features off")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dev chain: anvil (pid {Pid}) stopped; its state is saved")]
    private static partial void LogStopped(ILogger logger, int pid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dev chain: stopping anvil (pid {Pid}) left running by a silo that did not shut down")]
    private static partial void LogLeftover(ILogger logger, int pid);
}
