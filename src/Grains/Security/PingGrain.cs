using MetaNode.Security;

namespace MetaNode.Grains.Security;

/// <summary>Answers <see cref="IPingGrain.PingAsync"/> on whichever silo the call reached (a stateless worker, no state).</summary>
[GrainType("client-ping"), Orleans.Concurrency.StatelessWorker]
public sealed class PingGrain : Grain, IPingGrain
{
    public Task PingAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;
}
