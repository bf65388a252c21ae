using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Chain;

public sealed partial class ChainGrain
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Validator vPod {VPodId} refused to sign the rotation: {Reason}")]
    private static partial void LogRotationRefused(ILogger logger, string vpodId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "ResultRegistry deployed at {Registry} with {Validators} validators, threshold {Threshold}, on {RpcUrl}; it is now the registry of this cluster")]
    private static partial void LogDeployed(ILogger logger, string registry, int validators, int threshold, string rpcUrl);
}
