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
/// every vPod, cluster or job grain: a call to it takes the path theirs take, with nothing behind it. A key outside
/// <see cref="PingKeys.IsPlacedKey"/> is refused and its activation let go, so callers cannot fill a silo with them.
/// </summary>
[GrainType(PingKeys.PlacedType)]
public sealed class PlacedPingGrain : Grain, IPingGrain
{
    private bool? _valid;

    public Task PingAsync(CancellationToken cancellationToken = default)
    {
        _valid ??= PingKeys.IsPlacedKey(this.GetPrimaryKeyString());
        if (_valid is false)
        {
            DeactivateOnIdle();
            throw new ArgumentOutOfRangeException(nameof(IPingGrain), this.GetPrimaryKeyString(), $"A placed ping grain's key is a number 0-{PingKeys.PlacedKeys - 1}.");
        }

        return Task.CompletedTask;
    }
}
