namespace MetaNode.Bench;

/// <summary>The baseline: a grain call that does nothing.</summary>
[Alias("MetaNode.Bench.IPingGrain")]
public interface IPingGrain : IGrainWithIntegerKey
{
    [Alias("Ping")]
    Task<int> PingAsync();
}

public sealed class PingGrain : Grain, IPingGrain
{
    public Task<int> PingAsync() => Task.FromResult(0);
}
