using MetaNode.Grains.Runtime;
using MetaNode.Grains.VPods;

namespace MetaNode.Tests.VPods;

public sealed class ReconcileDecisionTests
{
    [Fact]
    public void OrphanedWorkload_OfADeadSilo_ResumesAtOnce_WithoutTheRestartPolicy()
    {
        Assert.True(ReconcileDecision.ResumesAtOnce(WorkloadState.Orphaned, interrupted: false));
    }

    [Fact]
    public void InterruptedBySiloShutdown_ResumesAtOnce_WhateverTheRuntimeSees()
    {
        Assert.True(ReconcileDecision.ResumesAtOnce(WorkloadState.NotFound, interrupted: true));
        Assert.True(ReconcileDecision.ResumesAtOnce(WorkloadState.Orphaned, interrupted: true));
    }

    [Theory]
    [InlineData(WorkloadState.NotFound)]
    [InlineData(WorkloadState.Created)]
    public void VanishedWorkload_IsLeftToTheRestartPolicy(WorkloadState observed)
    {
        Assert.False(ReconcileDecision.ResumesAtOnce(observed, interrupted: false));
    }
}
