using MetaNode.Security;

namespace MetaNode.Grains.Security;

/// <summary>Answers <see cref="IPingGrain.PingAsync"/> on whichever silo the call reached (a stateless worker, no state).</summary>
[GrainType(PingKeys.GatewayType), Orleans.Concurrency.StatelessWorker]
public sealed class PingGrain : Grain, IPingGrain
{
    public Task PingAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;
}

/// <summary>
/// Answers <see cref="IPingGrain.PingAsync"/> from one activation per key, placed and registered in the grain directory like
/// every vPod, cluster or job grain: a call to it takes the path theirs take, with nothing behind it.
/// </summary>
[GrainType(PingKeys.PlacedType)]
public sealed class PlacedPingGrain : Grain, IPingGrain
{
    public Task PingAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;
}
