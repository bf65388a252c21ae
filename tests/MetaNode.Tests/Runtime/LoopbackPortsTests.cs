using MetaNode.Grains.Runtime;

namespace MetaNode.Tests.Runtime;

public sealed class LoopbackPortsTests
{
    [Fact]
    public void FreePorts_AreNeverHandedOutTwice_AcrossCalls()
    {
        // The system offers ports from a range of some ten thousand; 600 probes closed one after another would repeat one
        // with near certainty (the birthday bound), which is how two vPods created side by side once shared a port.
        var ports = Enumerable.Range(0, 300).SelectMany(_ => LoopbackPorts.Free(2)).ToList();
        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, p => Assert.InRange(p, 1, 65535));
    }

    [Fact]
    public async Task FreePorts_AskedForConcurrently_AreDistinct()
    {
        var batches = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => Enumerable.Range(0, 20).Select(_ => LoopbackPorts.Free()).ToList())));
        var ports = batches.SelectMany(b => b).ToList();
        Assert.Equal(ports.Count, ports.Distinct().Count());
    }
}
