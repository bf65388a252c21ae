using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Grains.Runtime;
using MetaNode.Tests.Federation;
using MetaNode.Workload.Keys;
using MetaNode.Workloads;
using Xunit.Abstractions;
using GoldenVectors = MetaNode.Tests.Workload.WorkloadGoldenVectorTests.GoldenVectors;

namespace MetaNode.Tests.Workload;

/// <summary>
/// The Python workload (<c>examples/python-workload</c>) run as a real <see cref="WorkloadProcess.PythonInterpreter"/> process and
/// called over HTTP: against every golden vector, against the C# workload on the same requests (compute and validator), and as a
/// validator whose equivocation guard and key outlive a restart.
/// </summary>
public sealed class PythonWorkloadTests(ITestOutputHelper output) : IDisposable
{
    private const long ChainId = WorkloadGoldenVectorTests.ChainId;
    private const string Registry = WorkloadGoldenVectorTests.Registry;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(20);

    private readonly string _root = Path.Combine(Path.GetTempPath(), $"metanode-python-{Guid.NewGuid():N}");
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(120) };

    public void Dispose()
    {
        _http.Dispose();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    /// <summary>Starts the Python or the C# workload as a process; without <paramref name="keyDirectory"/> it gets a fresh temporary key.</summary>
    internal static async Task<(WorkloadProcess Process, Uri Endpoint)> StartAsync(bool python, string vpodId, string dataDirectory, string? keyDirectory = null)
    {
        var port = LoopbackPorts.Free();
        var environment = new Dictionary<string, string?>
        {
            [WorkloadProtocol.HostVariable] = "127.0.0.1",
            [WorkloadProtocol.PortVariable] = port.ToString(CultureInfo.InvariantCulture),
            [WorkloadProtocol.VPodIdVariable] = vpodId,
            [WorkloadProtocol.DataDirectoryVariable] = dataDirectory,
        };
        if (keyDirectory is not null)
        {
            environment[WorkloadProtocol.KeyDirectoryVariable] = keyDirectory;
        }

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
    public async Task PythonWorkload_MatchesEveryGoldenVector()
    {
        var files = Directory.GetFiles(GoldenVectors.Directory, "*.json").Select(Path.GetFileName).OfType<string>()
            .Where(f => f != "errors.json").Order(StringComparer.Ordinal).ToList();
        Assert.Superset(WorkloadGoldenVectorTests.EndpointVectors.Cast<object[]>().Select(row => (string)row[0]).ToHashSet(), files.ToHashSet());
        var failures = new List<string>();

        foreach (var file in files)
        {
            var vector = ReadGolden(file);
            var (data, keys) = CopyGolden();
            var (python, endpoint) = await StartAsync(python: true, WorkloadGoldenVectorTests.VPodId, data, keys);
            await using (python)
            {
                var (status, answer) = await PostAsync(endpoint, (string)vector["path"]!, vector["request"]!);
                var mismatch = Record.Exception(() =>
                {
                    Assert.True((int)vector["status"]! == status, $"answered {status}, the vector says {vector["status"]}: {answer?.ToJsonString()}");
                    WorkloadGoldenVectorTests.JsonEqual(vector["answer"], answer, "answer");
                });
                Report(failures, file, mismatch?.Message);
            }
        }

        foreach (var testCase in ReadGolden("errors.json")["cases"]!.AsArray().Select(c => c!.AsObject()))
        {
            var name = (string)testCase["name"]!;
            var (data, keys) = CopyGolden();
            var (python, endpoint) = await StartAsync(python: true, WorkloadGoldenVectorTests.VPodId, data, keys);
            await using (python)
            {
                string? mismatch = null;
                foreach (var step in testCase["setup"]?.AsArray() ?? [])
                {
                    var (setupStatus, setupAnswer) = await PostAsync(endpoint, (string)step!["path"]!, step["request"]!);
                    if (setupStatus != (int)step["status"]!)
                    {
                        mismatch ??= $"setup {step["path"]} answered {setupStatus}, expected {step["status"]}: {setupAnswer?.ToJsonString()}";
                    }
                }

                var (status, answer) = await PostAsync(endpoint, (string)testCase["path"]!, testCase["request"]!);
                if (status != (int)testCase["status"]!)
                {
                    mismatch ??= $"answered {status}, expected {testCase["status"]}: {answer?.ToJsonString()}";
                }
                else if (answer?["error"]?.GetValueKind() != JsonValueKind.String)
                {
                    mismatch ??= $"the answer has no error text: {answer?.ToJsonString()}";
                }
                else if (name == "data-path-traversal" && File.Exists(Path.Combine(data, "notes.txt")))
                {
                    mismatch ??= "a refused placement wrote its first file";
                }

                Report(failures, $"errors.json/{name}", mismatch);
            }
        }

        Assert.True(failures.Count == 0, $"The Python workload departs from {failures.Count} golden vector(s):{Environment.NewLine}{string.Join(Environment.NewLine, failures)}");
    }

    [Fact]
    public async Task PythonWorkload_AnswersWithTheSameBytesAsTheCSharpWorkload_WhenGivenTheSameRequests()
    {
        using var data = FederationTestData.Create(BuiltInDatasets.LoadDigits(), PartitionScheme.Dirichlet(0.5), 4, seed: 11);
        var computeId = data.ComputeIds[1];
        var (python, pythonEndpoint) = await StartAsync(python: true, computeId, data.DataDirectory(computeId));
        await using var pythonProcess = python;
        var (pythonValidator, pythonValidatorEndpoint) = await StartAsync(python: true, data.ValidatorId, data.DataDirectory(data.ValidatorId));
        await using var pythonValidatorProcess = pythonValidator;
        await using var csharp = await InProcessWorkload.StartAsync(computeId, data.DataDirectory(computeId));
        var client = new FederatedWorkloadClient(_http);
        var pythonAddress = VPodKeyFile.Load(VPodKeyFile.PathIn(python.KeyDirectory)).Address;

        var health = JsonNode.Parse(await _http.GetStringAsync(new Uri(pythonEndpoint, WorkloadProtocol.HealthPath)))!;
        Assert.Equal(("ok", computeId, WorkloadProtocol.Version), ((string?)health["status"], (string?)health["vpodId"], (int?)health["protocol"]));

        var nonce = RandomNumberGenerator.GetBytes(32);
        var identity = await client.ProveIdentityAsync(pythonEndpoint, computeId, nonce, ChainId);
        Assert.Equal(new IdentityResponse(computeId, pythonAddress, identity.Signature), identity);
        Assert.Equal(pythonAddress, VPodTypedData.RecoverIdentity(computeId, nonce, ChainId, identity.Signature));
        Assert.NotEqual(csharp.Address, pythonAddress);

        var pythonMoments = await client.GetStatisticsAsync(pythonEndpoint);
        var csharpMoments = await client.GetStatisticsAsync(csharp.Endpoint);
        Assert.Equal(csharpMoments, pythonMoments with { Sum = csharpMoments.Sum, SumOfSquares = csharpMoments.SumOfSquares });
        Assert.Equal(csharpMoments.Sum, pythonMoments.Sum);
        Assert.Equal(csharpMoments.SumOfSquares, pythonMoments.SumOfSquares);

        var standardization = StandardizationCombiner.Combine([csharpMoments]);
        var hyper = new TrainingHyperParameters(3, 8, 0.05, FederatedSeeds.Training(11, 1, computeId));
        var rows = csharpMoments.Count;
        var fromPython = await client.TrainAsync(pythonEndpoint, "job-x", 1, ChainId, rows, FederatedModel.Zero(10, 64), standardization, hyper);
        var fromCSharp = await client.TrainAsync(csharp.Endpoint, "job-x", 1, ChainId, rows, FederatedModel.Zero(10, 64), standardization, hyper);
        output.WriteLine($"python {fromPython.Metrics.ElapsedMs} ms, C# {fromCSharp.Metrics.ElapsedMs} ms for {fromCSharp.Metrics.Steps} steps on {fromCSharp.SampleCount} rows");

        Assert.Equal(fromCSharp.SampleCount, fromPython.SampleCount);
        Assert.Equal(fromCSharp.Metrics.Steps, fromPython.Metrics.Steps);
        Assert.Equal(ModelEncoding.HashHex(fromCSharp.Model), ModelEncoding.HashHex(fromPython.Model));
        Assert.Equal(fromCSharp.Metrics.Loss, fromPython.Metrics.Loss);
        Assert.Equal(fromCSharp.Metrics.Accuracy, fromPython.Metrics.Accuracy);

        // Both receipts state the same update; each is signed by its own workload's key (so only the signatures differ).
        Assert.Equal(fromCSharp.Receipt with { Signature = null }, fromPython.Receipt with { Signature = null });
        Assert.Equal(new TrainingReceipt("job-x", 1, computeId, rows, ModelEncoding.HashHex(fromPython.Model)), fromPython.Receipt with { Signature = null });
        Assert.True(VPodTypedData.ReceiptSignedBy(fromPython.Receipt, ChainId, pythonAddress), "the Python receipt does not recover to the Python workload's key");
        Assert.True(VPodTypedData.ReceiptSignedBy(fromCSharp.Receipt, ChainId, csharp.Address), "the C# receipt does not recover to the C# workload's key");
        Assert.False(VPodTypedData.ReceiptSignedBy(fromPython.Receipt, ChainId, csharp.Address));

        var evaluation = await client.EvaluateAsync(pythonValidatorEndpoint, "job-x", 1, fromPython.Model, standardization);
        Assert.Equal(data.Plan.Test.Rows, evaluation.SampleCount);
        Assert.InRange(evaluation.Accuracy, 0.05, 1.0);

        var missing = await Assert.ThrowsAsync<WorkloadRequestException>(() => client.EvaluateAsync(pythonEndpoint, "job-x", 1, fromPython.Model, standardization, "test"));
        Assert.Equal(409, missing.StatusCode);
        var invalid = await Assert.ThrowsAsync<WorkloadRequestException>(() =>
            client.TrainAsync(pythonEndpoint, "job-x", 1, ChainId, rows, FederatedModel.Zero(10, 64), standardization, hyper with { LearningRate = -1 }));
        Assert.Equal(400, invalid.StatusCode);
        Assert.Contains("learningRate", invalid.Error);
        foreach (var endpoint in new[] { pythonEndpoint, csharp.Endpoint })
        {
            var otherCount = await Assert.ThrowsAsync<WorkloadRequestException>(() =>
                client.TrainAsync(endpoint, "job-x", 1, ChainId, rows + 1, FederatedModel.Zero(10, 64), standardization, hyper));
            Assert.Equal(409, otherCount.StatusCode);
            Assert.Equal($"the job assigned {rows + 1} samples; this vPod holds {rows} training rows", otherCount.Error);
        }

        python.Terminate();
        Assert.Equal(0, await python.WaitForExitAsync(ExitTimeout));
    }

    [Fact]
    public async Task FederatedAverage_GivesTheSameModelBytes_WhenHalfTheComputeVPodsAndAValidatorRunThePythonWorkload()
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

            var (pythonValidator, pythonValidatorEndpoint) = await StartAsync(python: true, data.ValidatorId, data.DataDirectory(data.ValidatorId));
            processes.Add(pythonValidator);
            var allCSharp = new Dictionary<string, Uri>();
            foreach (var id in data.ComputeIds.Append(data.ValidatorId))
            {
                inProcess.Add(await InProcessWorkload.StartAsync(id, data.DataDirectory(id)));
                allCSharp[id] = inProcess[^1].Endpoint;
            }

            var validator = allCSharp[data.ValidatorId];
            allCSharp.Remove(data.ValidatorId);
            var client = new FederatedWorkloadClient(_http);

            var mixedSimulation = new FederatedSimulation(client, "job-mixed", spec);
            var mixedRounds = await mixedSimulation.RunAsync(mixed, validator, 10, 64);
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

            // Round 1 again on a Python and a C# validator workload: each verifies the mixed receipts and aggregates to the bytes the
            // simulation computed, evaluates identically, and signs the registry's digest of that result with its own key.
            var first = mixedRounds[0];
            var request = new AggregateRequest(
                "job-mixed",
                1,
                FederatedSimulation.ChainId,
                Registry,
                spec.Robust.ToString(),
                ModelDto.From(FederatedModel.Zero(10, 64)),
                StandardizationDto.From(mixedSimulation.Standardization),
                [.. first.Trainings.Select(t => new ParticipantDto(t.VPodId, SignerOf(t.Receipt), t.SampleCount))],
                [.. first.Trainings.Select(t => new UpdateDto(ReceiptDto.From(t.Receipt), ModelDto.From(t.Model)))]);
            var fromPython = await client.AggregateAsync(pythonValidatorEndpoint, request);
            var fromCSharp = await client.AggregateAsync(validator, request);

            Assert.Equal(first.Aggregate.ModelHash, fromPython.ResultHash);
            Assert.Equal(first.Aggregate.ReceiptsRoot, fromPython.ReceiptsRoot);
            Assert.Equal((fromCSharp.Job, fromCSharp.Round, fromCSharp.ResultHash, fromCSharp.ReceiptsRoot, fromCSharp.ModelRef, fromCSharp.TotalSamples),
                (fromPython.Job, fromPython.Round, fromPython.ResultHash, fromPython.ReceiptsRoot, fromPython.ModelRef, fromPython.TotalSamples));
            Assert.Equal(data.ComputeIds, fromPython.Participants);
            Assert.Equal(fromCSharp.Participants, fromPython.Participants);
            Assert.Empty(fromPython.Rejected);
            Assert.Equal(fromCSharp.Model.Weights, fromPython.Model.Weights);
            Assert.Equal(fromCSharp.Model.Bias, fromPython.Model.Bias);
            Assert.NotNull(fromPython.Evaluation);
            Assert.Equal(fromCSharp.Evaluation, fromPython.Evaluation);
            var digest = RegistryTypedData.FinalizeDigest(new RegistryDomain(FederatedSimulation.ChainId, Registry), new MetaNode.Chain.RoundResult
            {
                JobId = "job-mixed",
                Round = 1,
                ResultHash = fromPython.ResultHash,
                ReceiptsRoot = fromPython.ReceiptsRoot,
                ModelRef = fromPython.ModelRef,
                ModelCid = fromPython.ModelCid!,
            });
            // Both workloads name the model by the same CID, and sign it.
            Assert.Equal(fromCSharp.ModelCid, fromPython.ModelCid);
            Assert.Equal(VPodKeyFile.Load(VPodKeyFile.PathIn(pythonValidator.KeyDirectory)).Address, fromPython.Signer);
            Assert.Equal(fromPython.Signer, RegistryTypedData.Recover(digest, fromPython.Signature));
            Assert.Equal(fromCSharp.Signer, RegistryTypedData.Recover(digest, fromCSharp.Signature));
            Assert.NotEqual(fromCSharp.Signer, fromPython.Signer);
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

    [Theory]
    [InlineData("avgm")]
    [InlineData("adam")]
    public async Task ServerOptimizer_GivesTheSameBytesInPythonAndCSharp_OverChainedRoundsOfFedProxUpdates(string kind)
    {
        var optimizer = ServerOptimizer.Parse(kind, null, null);
        using var data = FederationTestData.Create(BuiltInDatasets.LoadDigits(), PartitionScheme.Dirichlet(0.5), 3, seed: 5);
        var (pythonCompute, pythonComputeEndpoint) = await StartAsync(python: true, data.ComputeIds[0], data.DataDirectory(data.ComputeIds[0]));
        await using var pythonComputeProcess = pythonCompute;
        var (pythonValidator, pythonValidatorEndpoint) = await StartAsync(python: true, data.ValidatorId, data.DataDirectory(data.ValidatorId));
        await using var pythonValidatorProcess = pythonValidator;
        var compute = new List<InProcessWorkload>();
        foreach (var id in data.ComputeIds)
        {
            compute.Add(await InProcessWorkload.StartAsync(id, data.DataDirectory(id)));
        }

        await using var csharpValidator = await InProcessWorkload.StartAsync(data.ValidatorId, data.DataDirectory(data.ValidatorId));
        try
        {
            var client = new FederatedWorkloadClient(_http);
            var job = "job-" + kind;
            var moments = await Task.WhenAll(compute.Select(c => client.GetStatisticsAsync(c.Endpoint)));
            var standardization = StandardizationCombiner.Combine(moments);
            var global = FederatedModel.Zero(10, 64);
            OptimizerStateDto? state = null;
            string? previousState = null;
            for (var round = 1; round <= 3; round++)
            {
                var trainings = new List<TrainingOutcome>();
                for (var i = 0; i < compute.Count; i++)
                {
                    var hyper = new TrainingHyperParameters(2, 16, 0.1, FederatedSeeds.Training(5, round, data.ComputeIds[i]), ProximalMu: 0.1);
                    trainings.Add(await client.TrainAsync(compute[i].Endpoint, job, round, ChainId, moments[i].Count, global, standardization, hyper));
                    if (i == 0)
                    {
                        // FedProx's step in Python gives the C# bytes.
                        var python = await client.TrainAsync(pythonComputeEndpoint, job, round, ChainId, moments[i].Count, global, standardization, hyper);
                        Assert.Equal(ModelEncoding.HashHex(trainings[0].Model), ModelEncoding.HashHex(python.Model));
                        Assert.Equal(trainings[0].Metrics.Loss, python.Metrics.Loss);
                    }
                }

                var request = new AggregateRequest(
                    job,
                    round,
                    ChainId,
                    Registry,
                    "none",
                    ModelDto.From(global),
                    StandardizationDto.From(standardization),
                    [.. trainings.Select(t => new ParticipantDto(t.VPodId, SignerOf(t.Receipt), t.SampleCount))],
                    [.. trainings.Select(t => new UpdateDto(ReceiptDto.From(t.Receipt), ModelDto.From(t.Model)))],
                    ServerOptimizerDto.From(optimizer),
                    state);
                var fromPython = await client.AggregateAsync(pythonValidatorEndpoint, request);
                var fromCSharp = await client.AggregateAsync(csharpValidator.Endpoint, request);
                output.WriteLine($"{kind} round {round}: result {fromCSharp.ResultHash}, state {fromCSharp.StateHash}, accuracy {fromCSharp.Evaluation?.Accuracy}");

                Assert.Equal((fromCSharp.ResultHash, fromCSharp.ReceiptsRoot, fromCSharp.ModelRef, fromCSharp.ModelCid, fromCSharp.StateHash),
                    (fromPython.ResultHash, fromPython.ReceiptsRoot, fromPython.ModelRef, fromPython.ModelCid, fromPython.StateHash));
                Assert.Equal(fromCSharp.Model.Weights, fromPython.Model.Weights);
                Assert.Equal(fromCSharp.OptimizerState!.Momentum, fromPython.OptimizerState!.Momentum);
                Assert.Equal(fromCSharp.OptimizerState.SecondMoment, fromPython.OptimizerState.SecondMoment);
                Assert.Equal(kind == "adam", fromPython.OptimizerState.SecondMoment is not null);
                Assert.Equal(fromCSharp.Evaluation, fromPython.Evaluation);
                Assert.NotEqual(previousState, fromPython.StateHash);

                // The result is the server's step, not the average; the state hashes as documented; each signs it with its own key.
                var average = ModelAggregation.FederatedAverage([.. trainings.Select(t => new WeightedModel(t.VPodId, t.SampleCount, t.Model))]);
                Assert.NotEqual(ModelEncoding.HashHex(average), fromPython.ResultHash);
                var encodedState = new ServerOptimizerState(fromPython.OptimizerState.Momentum!, fromPython.OptimizerState.SecondMoment);
                Assert.Equal(ServerOptimization.HashHex(optimizer, encodedState), fromPython.StateHash);
                var stateDigest = RegistryTypedData.ServerStateDigest(new RegistryDomain(ChainId, Registry), job, round, fromPython.ResultHash, fromPython.StateHash!);
                Assert.Equal(fromPython.Signer, RegistryTypedData.Recover(stateDigest, fromPython.StateSignature!));
                Assert.Equal(fromCSharp.Signer, RegistryTypedData.Recover(stateDigest, fromCSharp.StateSignature!));

                global = FederatedWorkloadClient.ToModel(fromCSharp.Model, csharpValidator.Endpoint, WorkloadProtocol.AggregatePath);
                state = fromCSharp.OptimizerState;
                previousState = fromCSharp.StateHash;
            }
        }
        finally
        {
            foreach (var workload in compute)
            {
                await workload.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task PythonValidator_RefusesASecondDifferentDigest_WhenRestartedOverTheSameKeyDirectory()
    {
        var request = ReadGolden("aggregate.json")["request"]!;
        var (data, keys) = CopyGolden();
        var log = Path.Combine(keys, WorkloadProtocol.SignedRoundsFileName);

        JsonNode signed;
        var (python, endpoint) = await StartAsync(python: true, WorkloadGoldenVectorTests.VPodId, data, keys);
        await using (python)
        {
            var (status, answer) = await PostAsync(endpoint, WorkloadProtocol.AggregatePath, request);
            Assert.True(status == 200, $"the first aggregation answered {status}: {answer?.ToJsonString()}");
            signed = answer!;
            python.Terminate();
            Assert.Equal(0, await python.WaitForExitAsync(ExitTimeout));
        }

        var job = (string)signed["job"]!;
        var round = (int)signed["round"]!;
        var digest = FederationHashing.ToHex(RegistryTypedData.FinalizeDigest(new RegistryDomain(ChainId, Registry), new MetaNode.Chain.RoundResult
        {
            JobId = job,
            Round = round,
            ResultHash = (string)signed["resultHash"]!,
            ReceiptsRoot = (string)signed["receiptsRoot"]!,
            ModelRef = (string)signed["modelRef"]!,
            ModelCid = (string)signed["modelCid"]!,
        }));
        Assert.Equal((string)signed["signer"]!, RegistryTypedData.Recover(FederationHashing.ParseHash(digest), (string)signed["signature"]!));
        var record = new SignedRoundRecord(ChainId, Registry, job, round, digest);
        Assert.Equal(record, JsonSerializer.Deserialize(Assert.Single(File.ReadAllLines(log)), WorkloadJson.Default.SignedRoundRecord));

        var (restarted, restartedEndpoint) = await StartAsync(python: true, WorkloadGoldenVectorTests.VPodId, data, keys);
        await using (restarted)
        {
            // The same round again computes the same digest: the same signature (RFC 6979), and nothing new in the log.
            var (again, repeated) = await PostAsync(restartedEndpoint, WorkloadProtocol.AggregatePath, request);
            Assert.True(again == 200, $"the repeated aggregation answered {again}: {repeated?.ToJsonString()}");
            Assert.Equal((string)signed["signature"]!, (string)repeated!["signature"]!);

            // The same round without vpod-golden04's update is another result: refused, naming the digest signed before the restart.
            var withheld = request.DeepClone().AsObject();
            var updates = withheld["updates"]!.AsArray();
            foreach (var update in updates.Where(u => (string)u!["receipt"]!["vpod"]! == "vpod-golden04").ToList())
            {
                updates.Remove(update);
            }

            var (refused, refusal) = await PostAsync(restartedEndpoint, WorkloadProtocol.AggregatePath, withheld);
            Assert.True(refused == 409, $"the second result answered {refused}: {refusal?.ToJsonString()}");
            Assert.Contains(digest, (string)refusal!["error"]!, StringComparison.Ordinal);
            Assert.Null(refusal["signature"]);
        }

        Assert.Equal(record, JsonSerializer.Deserialize(Assert.Single(File.ReadAllLines(log)), WorkloadJson.Default.SignedRoundRecord));
    }

    [Fact]
    public async Task PythonWorkload_CreatesAKeyFileTheCSharpWorkloadLoads_AndKeepsItsAddressAcrossARestart()
    {
        var keys = Path.Combine(_root, "vpod", "key");
        var data = Path.Combine(_root, "vpod", "data");
        var nonce = RandomNumberGenerator.GetBytes(32);
        var client = new FederatedWorkloadClient(_http);
        var addresses = new List<string>();
        for (var start = 0; start < 2; start++)
        {
            var (python, endpoint) = await StartAsync(python: true, "vpod-py-key", data, keys);
            await using (python)
            {
                var proof = await client.ProveIdentityAsync(endpoint, "vpod-py-key", nonce, ChainId);
                Assert.Equal(proof.Address, VPodTypedData.RecoverIdentity("vpod-py-key", nonce, ChainId, proof.Signature));
                Assert.Contains(python.Lines, l => l.Contains("listening on", StringComparison.Ordinal) && l.Contains(proof.Address, StringComparison.Ordinal));
                addresses.Add(proof.Address);
                python.Terminate();
                Assert.Equal(0, await python.WaitForExitAsync(ExitTimeout));

                var privateKey = JsonNode.Parse(File.ReadAllText(VPodKeyFile.PathIn(keys)))!["privateKey"]!.GetValue<string>();
                Assert.DoesNotContain(python.Lines, l => l.Contains(privateKey[2..], StringComparison.OrdinalIgnoreCase));
            }
        }

        Assert.Equal(addresses[0], addresses[1]);
        Assert.Equal(addresses[0], VPodKeyFile.Load(VPodKeyFile.PathIn(keys)).Address);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(keys));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(VPodKeyFile.PathIn(keys)));
        }

        Assert.Equal(WorkloadProtocol.KeyFileName, Path.GetFileName(Assert.Single(Directory.GetFiles(keys))));
    }

    [Fact]
    public async Task PythonWorkload_Exits2NamingTheKeyFile_WhenItsAddressIsNotItsKeys()
    {
        var keys = Path.Combine(_root, "key");
        var privateKey = GoldenVectors.PrivateKey("python-mismatch");
        var content = $$"""{"address":"0x{{new string('1', 40)}}","privateKey":"0x{{Convert.ToHexStringLower(privateKey)}}"}""";
        Directory.CreateDirectory(keys);
        File.WriteAllText(VPodKeyFile.PathIn(keys), content);

        await using var python = WorkloadProcess.StartPython(new Dictionary<string, string?>
        {
            [WorkloadProtocol.PortVariable] = LoopbackPorts.Free().ToString(CultureInfo.InvariantCulture),
            [WorkloadProtocol.DataDirectoryVariable] = Path.Combine(_root, "data"),
            [WorkloadProtocol.KeyDirectoryVariable] = keys,
        });

        Assert.Equal(2, await python.WaitForExitAsync(StartTimeout));
        var address = VPodKey.FromPrivateKey(privateKey).Address;
        Assert.Contains(python.Lines, l => l.Contains(VPodKeyFile.PathIn(keys), StringComparison.Ordinal) && l.Contains(address, StringComparison.Ordinal));
        Assert.DoesNotContain(python.Lines, l => l.Contains(Convert.ToHexStringLower(privateKey), StringComparison.Ordinal));
        Assert.Equal(content, File.ReadAllText(VPodKeyFile.PathIn(keys)));
    }

    private static JsonObject ReadGolden(string file) => JsonNode.Parse(File.ReadAllText(Path.Combine(GoldenVectors.Directory, file)))!.AsObject();

    private static string SignerOf(TrainingReceipt receipt) =>
        EthereumSignatures.RecoverAddress(VPodTypedData.ReceiptDigest(receipt, FederatedSimulation.ChainId), EthereumSignatures.ParseSignature(receipt.Signature))
        ?? throw new InvalidOperationException($"the receipt of {receipt.VPodId} recovers no signer");

    private void Report(List<string> failures, string vector, string? mismatch)
    {
        output.WriteLine($"{vector}: {mismatch ?? "matches"}");
        if (mismatch is not null)
        {
            failures.Add($"{vector}: {mismatch}");
        }
    }

    /// <summary>A fresh copy of the golden partition and key: a vector's request may write there (placed data, the signed-rounds log).</summary>
    private (string DataDirectory, string KeyDirectory) CopyGolden()
    {
        var root = Path.Combine(_root, Guid.NewGuid().ToString("N")[..12]);
        foreach (var part in new[] { "data", "key" })
        {
            Directory.CreateDirectory(Path.Combine(root, part));
            foreach (var file in Directory.GetFiles(Path.Combine(GoldenVectors.Directory, part)))
            {
                File.Copy(file, Path.Combine(root, part, Path.GetFileName(file)));
            }
        }

        return (Path.Combine(root, "data"), Path.Combine(root, "key"));
    }

    private async Task<(int Status, JsonNode? Answer)> PostAsync(Uri endpoint, string path, JsonNode request)
    {
        using var content = new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(new Uri(endpoint, path), content);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }
}
