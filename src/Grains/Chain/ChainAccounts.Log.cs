using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Chain;

public sealed partial class ChainAccounts
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Chain operator account {Address} (from {Source})")]
    private static partial void LogOperator(ILogger logger, string address, string source);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Keystore file {File} could not be read or unlocked ({Error}); check the file and MetaNode:Chain:KeystorePassword")]
    private static partial void LogKeystoreUnreadable(ILogger logger, string file, string error);
}
