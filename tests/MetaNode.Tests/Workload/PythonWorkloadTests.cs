using System.Globalization;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Tests.Federation;
using MetaNode.Workload;
using Xunit.Abstractions;

namespace MetaNode.Tests.Workload;

/// <summary>The stdlib-only Python workload (<c>examples/python-workload</c>) run as a real <c>python3</c> process and called over HTTP.</summary>
public sealed class PythonWorkloadTests(ITestOutputHelper output)
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    internal static async Task<(WorkloadProcess Process, Uri Endpoint)> StartAsync(bool python, string vpodId, string dataDirectory)
    {
        var port = WorkloadProcess.FreeLoopbackPort();
        var environment = new Dictionary<string, string?>
        {
            [WorkloadSettings.HostVariable] = "127.0.0.1",
            [WorkloadSettings.PortVariable] = port.ToString(CultureInfo.InvariantCulture),
            [WorkloadSettings.VPodIdVariable] = vpodId,
            [WorkloadSettings.DataDirectoryVariable] = dataDirectory,
        };
        var process = python ? WorkloadProcess.StartPython(environment) : WorkloadProcess.Start(environment);
        try
        {
            await process.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal), $"the start-up line of {vpodId}", StartTimeout);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }

        return (process, new Uri($"http://127.0.0.1:{port}"));
    }

    [Fact]
    public async Task PythonWorkload_AnswersEveryEndpointWithTheSameBytesAsTheCSharpWorkload_WhenGivenTheSameRequests()
    {
        using var data = FederationTestData.Create(BuiltInDatasets.LoadDigits(), PartitionScheme.Dirichlet(0.5), 4, seed: 11);
        var computeId = data.ComputeIds[1];
        var (python, pythonEndpoint) = await StartAsync(python: true, computeId, data.DataDirectory(computeId));
        await using var pythonProcess = python;
        var (pythonValidator, pythonValidatorEndpoint) = await StartAsync(python: true, data.ValidatorId, data.DataDirectory(data.ValidatorId));
        await using var pythonValidatorProcess = pythonValidator;
        await using var csharp = await InProcessWorkload.StartAsync(computeId, data.DataDirectory(computeId));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        var client = new FederatedWorkloadClient(http);

        var pythonMoments = await client.GetStatisticsAsync(pythonEndpoint);
        var csharpMoments = await client.GetStatisticsAsync(csharp.Endpoint);
        Assert.Equal(csharpMoments, pythonMoments with { Sum = csharpMoments.Sum, SumOfSquares = csharpMoments.SumOfSquares });
        Assert.Equal(csharpMoments.Sum, pythonMoments.Sum);
        Assert.Equal(csharpMoments.SumOfSquares, pythonMoments.SumOfSquares);

        var standardization = StandardizationCombiner.Combine([csharpMoments]);
        var hyper = new TrainingHyperParameters(3, 8, 0.05, FederatedSeeds.Training(11, 1, computeId));
        var fromPython = await client.TrainAsync(pythonEndpoint, "job-x", 1, 31337, null, FederatedModel.Zero(10, 64), standardization, hyper);
        var fromCSharp = await client.TrainAsync(csharp.Endpoint, "job-x", 1, 31337, null, FederatedModel.Zero(10, 64), standardization, hyper);
        output.WriteLine($"python {fromPython.Metrics.ElapsedMs} ms, C# {fromCSharp.Metrics.ElapsedMs} ms for {fromCSharp.Metrics.Steps} steps on {fromCSharp.SampleCount} rows");

        Assert.Equal(fromCSharp.SampleCount, fromPython.SampleCount);
        Assert.Equal(fromCSharp.Metrics.Steps, fromPython.Metrics.Steps);
        Assert.Equal(ModelEncoding.HashHex(fromCSharp.Model), ModelEncoding.HashHex(fromPython.Model));
        Assert.Equal(fromCSharp.Metrics.Loss, fromPython.Metrics.Loss);
        Assert.Equal(fromCSharp.Metrics.Accuracy, fromPython.Metrics.Accuracy);

        var evaluation = await client.EvaluateAsync(pythonValidatorEndpoint, "job-x", 1, fromPython.Model, standardization);
        Assert.Equal(data.Plan.Test.Rows, evaluation.SampleCount);
        Assert.InRange(evaluation.Accuracy, 0.05, 1.0);

        var missing = await Assert.ThrowsAsync<WorkloadRequestException>(() => client.EvaluateAsync(pythonEndpoint, "job-x", 1, fromPython.Model, standardization, "test"));
        Assert.Equal(409, missing.StatusCode);
        var invalid = await Assert.ThrowsAsync<WorkloadRequestException>(() =>
            client.TrainAsync(pythonEndpoint, "job-x", 1, 31337, null, FederatedModel.Zero(10, 64), standardization, hyper with { LearningRate = -1 }));
        Assert.Equal(400, invalid.StatusCode);
        Assert.Contains("learningRate", invalid.Error);

        python.Terminate();
        Assert.Equal(0, await python.WaitForExitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task FederatedAverage_GivesTheSameModelBytes_WhenHalfTheComputeVPodsRunThePythonWorkload()
    {
        var spec = new FederatedJobSpec
        {
            ComputeCluster = "compute",
            ValidatorCluster = "validators",
            Dataset = BuiltInDatasets.Digits,
            Partition = PartitionScheme.Dirichlet(0.5),
            Rounds = 3,
            LocalEpochs = 1,
            BatchSize = 16,
            LearningRate = 0.1,
            MinParticipants = 4,
            Seed = 21,
        };
        using var data = FederationTestData.Create(BuiltInDatasets.LoadDigits(), spec.Partition, 4, spec.Seed);
        var processes = new List<WorkloadProcess>();
        var inProcess = new List<InProcessWorkload>();
        try
        {
            // Mixed: vPods 0 and 2 run the Python workload, 1 and 3 the C# workload, each as its own process.
            var mixed = new Dictionary<string, Uri>();
            for (var i = 0; i < data.ComputeIds.Count; i++)
            {
                var id = data.ComputeIds[i];
                var (process, endpoint) = await StartAsync(python: i % 2 == 0, id, data.DataDirectory(id));
                processes.Add(process);
                mixed[id] = endpoint;
            }

            var allCSharp = new Dictionary<string, Uri>();
            foreach (var id in data.ComputeIds.Append(data.ValidatorId))
            {
                inProcess.Add(await InProcessWorkload.StartAsync(id, data.DataDirectory(id)));
                allCSharp[id] = inProcess[^1].Endpoint;
            }

            var validator = allCSharp[data.ValidatorId];
            allCSharp.Remove(data.ValidatorId);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(120) };
            var client = new FederatedWorkloadClient(http);

            var mixedRounds = await new FederatedSimulation(client, "job-mixed", spec).RunAsync(mixed, validator, 10, 64);
            var referenceRounds = await new FederatedSimulation(client, "job-mixed", spec).RunAsync(allCSharp, validator, 10, 64);

            foreach (var round in mixedRounds)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round {round.Aggregate.Round}: accuracy {round.Evaluation.Accuracy:F4}, {round.Elapsed.TotalMilliseconds:F0} ms, hash {round.Aggregate.ModelHash}"));
            }

            Assert.Equal(referenceRounds.Select(r => r.Aggregate.ModelHash), mixedRounds.Select(r => r.Aggregate.ModelHash));
            Assert.Equal(referenceRounds.Select(r => r.Aggregate.ReceiptsRoot), mixedRounds.Select(r => r.Aggregate.ReceiptsRoot));
            Assert.All(mixedRounds, r => Assert.Equal(data.ComputeIds, r.Aggregate.Participants));
            Assert.True(mixedRounds[^1].Evaluation.Accuracy > 0.9, $"accuracy after 3 rounds {mixedRounds[^1].Evaluation.Accuracy}");
        }
        finally
        {
            foreach (var process in processes)
            {
                await process.DisposeAsync();
            }

            foreach (var workload in inProcess)
            {
                await workload.DisposeAsync();
            }
        }
    }
}
