using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Placement;

public sealed partial class VPodPlacementDirector
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "vPod {VPodId} placed on a random silo: the placement ledger did not answer; capacity was not checked")]
    private static partial void LogLedgerUnavailable(ILogger logger, Exception exception, string vpodId);
}
