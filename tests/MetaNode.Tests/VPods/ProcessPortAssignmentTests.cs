using MetaNode.Grains.Runtime.Process;
using MetaNode.VPods;

namespace MetaNode.Tests.VPods;

public sealed class ProcessPortAssignmentTests
{
    private static readonly VPodSpec Reference = new() { Name = "worker-1", DeploymentMethod = DeploymentMethod.Process };

    private static Func<int, int[]> Source(params int[][] batches)
    {
        var queue = new Queue<int[]>(batches);
        return count =>
        {
            var batch = queue.Dequeue();
            Assert.Equal(count, batch.Length);
            return batch;
        };
    }

    private static readonly Func<int, int[]> NeverAsked = _ => throw new InvalidOperationException("no port was wanted");

    [Fact]
    public void AssignFreePorts_GivesTheReferenceWorkloadWithoutPortsOnePort() =>
        Assert.Equal([41000], ProcessPortAssignment.AssignFreePorts(Reference, Source([41000])).Ports);

    [Fact]
    public void AssignFreePorts_LeavesACommandOrImageWithoutPortsWithout()
    {
        Assert.Empty(ProcessPortAssignment.AssignFreePorts(Reference with { Command = ["sleep", "1"] }, NeverAsked).Ports);
        Assert.Empty(ProcessPortAssignment.AssignFreePorts(Reference with { Image = "reference" }, NeverAsked).Ports);
    }

    [Theory]
    [InlineData(DeploymentMethod.Docker)]
    [InlineData(DeploymentMethod.Kubernetes)]
    public void AssignFreePorts_LeavesOtherRuntimesAlone(DeploymentMethod method)
    {
        var spec = Reference with { DeploymentMethod = method, Ports = [0] };
        Assert.Same(spec, ProcessPortAssignment.AssignFreePorts(spec, NeverAsked));
        Assert.Empty(ProcessPortAssignment.AssignFreePorts(Reference with { DeploymentMethod = method }, NeverAsked).Ports);
    }

    [Fact]
    public void AssignFreePorts_KeepsFixedPorts()
    {
        var spec = Reference with { Ports = [5000, 5001] };
        Assert.Same(spec, ProcessPortAssignment.AssignFreePorts(spec, NeverAsked));
    }

    [Fact]
    public void AssignFreePorts_ReplacesEachPortZero_InPlace() =>
        Assert.Equal([41000, 5000, 41001], ProcessPortAssignment.AssignFreePorts(Reference with { Ports = [0, 5000, 0] }, Source([41000, 41001])).Ports);

    [Fact]
    public void AssignFreePorts_NeverGivesAPortTheSpecNames_OrOneTwice()
    {
        // The first batch offers the fixed port, the second one already given: both are refused and asked for again.
        var spec = Reference with { Ports = [0, 0, 5000] };
        var assigned = ProcessPortAssignment.AssignFreePorts(spec, Source([5000, 41000], [41000], [41001]));
        Assert.Equal([41000, 41001, 5000], assigned.Ports);
    }

    [Fact]
    public void AssignFreePorts_FromLoopback_GivesDistinctNonZeroPorts()
    {
        var ports = ProcessPortAssignment.AssignFreePorts(Reference with { Ports = [0, 0, 0] }).Ports;
        Assert.Equal(3, ports.Distinct().Count());
        Assert.All(ports, port => Assert.InRange(port, 1, 65535));
    }
}
