using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Grains.Runtime;
using MetaNode.Tests.Infrastructure;
using MetaNode.Tests.Runtime;
using MetaNode.VPods;

namespace MetaNode.Tests.Federation;

/// <summary>A partition placed in a process vPod's data directory is what its workload (C# or Python) trains on: the runtime passes METANODE_DATA_DIR.</summary>
public sealed class ProcessVPodDataTests : IAsyncLifetime
{
    private readonly ProcessRuntimeSandbox _sandbox = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _sandbox.DisposeAsync();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ProcessVPod_TrainsOnThePartitionWrittenToItsDataDirectory_WhenStartedByTheProcessRuntime(bool python)
    {
        var runtime = _sandbox.CreateRuntime();
        var vpodId = python ? "vpod-py000001" : "vpod-cs000001";
        var digits = BuiltInDatasets.LoadDigits();
        var plan = DataPartitioner.Plan(digits, PartitionScheme.Iid, 5, 0.2, 17);
        var spec = new VPodSpec
        {
            Name = "trainer",
            Ports = [LoopbackPorts.Free()],
            Command = python ? [MetaNode.Tests.Workload.WorkloadProcess.PythonInterpreter, Path.Combine(AppContext.BaseDirectory, "examples", "python-workload", "workload.py")] : [],
        };

        await runtime.ProvisionAsync(vpodId, spec);
        await runtime.WriteDataFilesAsync(vpodId, spec, handle: null, PartitionWriter.Files(new PartitionDescription("digits", "iid", 2, 5, 17), plan.Parts[2], null));
        var handle = await runtime.StartAsync(vpodId, spec, handle: null);
        var endpoint = new Uri(handle.Endpoint!);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var client = new FederatedWorkloadClient(http);

        var moments = await Eventually.WaitAsync(() => client.GetStatisticsAsync(endpoint), _ => true, $"the statistics of {vpodId}", TimeSpan.FromSeconds(60));
        var outcome = await client.TrainAsync(endpoint, "job-p", 1, 31337, null, FederatedModel.Zero(10, 64), StandardizationCombiner.Combine([moments]), new TrainingHyperParameters(1, 16, 0.1, 5));

        Assert.Equal(vpodId, moments.VPodId);
        Assert.Equal(plan.Parts[2].Rows, moments.Count);
        Assert.Equal(plan.Parts[2].Rows, outcome.SampleCount);
        Assert.True(outcome.Metrics.Accuracy > 0.8, $"local accuracy {outcome.Metrics.Accuracy}");
    }
}
