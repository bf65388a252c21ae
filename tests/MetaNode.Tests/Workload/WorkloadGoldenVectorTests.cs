using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Tests.Federation;
using MetaNode.Workload.Keys;
using MetaNode.Workloads;
using Nethereum.ABI.EIP712;
using Nethereum.Signer;
using Nethereum.Signer.EIP712;
using Nethereum.Util;

namespace MetaNode.Tests.Workload;

/// <summary>
/// The workload protocol's golden vectors (<c>tests/golden/workload-v2</c>): the C# workload, run in-process over a copy of the golden
/// partition and key, must answer every stored request exactly as stored. Any other implementation (the Python workload) is checked
/// against the same files. With <c>METANODE_REGENERATE_GOLDEN=1</c> the tests build the requests, ask the workload and write the
/// files instead of comparing (CI never sets it).
/// </summary>
public sealed class WorkloadGoldenVectorTests
{
    public const string RegenerateVariable = "METANODE_REGENERATE_GOLDEN";
    public const string VPodId = "vpod-golden01";
    public const long ChainId = 31337;
    public const string Registry = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
    public const string Job = "job-golden";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Fields whose value is not part of the contract: wall-clock time and the wording of rejection reasons.</summary>
    private static readonly HashSet<string> Unchecked = new(StringComparer.Ordinal) { "answer.metrics.elapsedMs", "answer.rejected[].reason" };

    private static bool Regenerating => Environment.GetEnvironmentVariable(RegenerateVariable) == "1";

    public static TheoryData<string> EndpointVectors => new() { "identity.json", "data.json", "statistics.json", "train.json", "train-proximal.json", "evaluate.json", "aggregate.json", "aggregate-median.json", "aggregate-avgm.json", "aggregate-adam.json", "sign-rotation.json" };

    [Theory]
    [MemberData(nameof(EndpointVectors))]
    public async Task Workload_AnswersFieldByFieldAsTheGoldenVectorSays_ForEachEndpoint(string file)
    {
        var path = Path.Combine(GoldenVectors.Directory, file);
        var vector = Regenerating ? GoldenVectors.Build(file) : JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        await using var copy = await GoldenWorkload.StartAsync();

        var (status, answer) = await copy.PostAsync((string)vector["path"]!, vector["request"]!);

        if (Regenerating)
        {
            Assert.True(status == HttpStatusCode.OK, $"{file}: the workload answered {(int)status}: {answer?.ToJsonString()}");
            vector["status"] = (int)status;
            vector["answer"] = answer;
            GoldenVectors.Write(path, vector);
            return;
        }

        Assert.Equal((int)vector["status"]!, (int)status);
        JsonEqual(vector["answer"]!, answer!, "answer");
    }

    [Fact]
    public async Task Workload_RefusesEveryErrorVectorWithItsStatus_WhenTheRequestIsMalformedOrConflicts()
    {
        var path = Path.Combine(GoldenVectors.Directory, "errors.json");
        var vector = Regenerating ? GoldenVectors.BuildErrors() : JsonNode.Parse(File.ReadAllText(path))!.AsObject();

        foreach (var testCase in vector["cases"]!.AsArray().Select(c => c!.AsObject()))
        {
            var name = (string)testCase["name"]!;
            await using var copy = await GoldenWorkload.StartAsync();
            foreach (var step in testCase["setup"]?.AsArray() ?? [])
            {
                var (setupStatus, setupAnswer) = await copy.PostAsync((string)step!["path"]!, step["request"]!);
                Assert.True((int)setupStatus == (int)step["status"]!, $"{name}: setup {step["path"]} answered {(int)setupStatus}: {setupAnswer?.ToJsonString()}");
            }

            var (status, answer) = await copy.PostAsync((string)testCase["path"]!, testCase["request"]!);

            Assert.True((int)status == (int)testCase["status"]!, $"{name}: expected {testCase["status"]}, the workload answered {(int)status}: {answer?.ToJsonString()}");
            Assert.True(answer?["error"]?.GetValueKind() == JsonValueKind.String, $"{name}: the answer has no error text: {answer?.ToJsonString()}");
            if (name == "data-path-traversal")
            {
                Assert.False(File.Exists(Path.Combine(copy.DataDirectory, "notes.txt")), "a refused placement wrote its first file");
            }
        }

        if (Regenerating)
        {
            GoldenVectors.Write(path, vector);
        }
    }

    [Theory]
    [MemberData(nameof(EndpointVectors))]
    [InlineData("errors.json")]
    public void StoredRequests_AreWhatTheGeneratorBuilds_SoTheVectorsCanBeRegenerated(string file)
    {
        var stored = JsonNode.Parse(File.ReadAllText(Path.Combine(GoldenVectors.Directory, file)))!.AsObject();
        var built = file == "errors.json" ? GoldenVectors.BuildErrors() : GoldenVectors.Build(file);

        if (file == "errors.json")
        {
            JsonEqual(built["cases"]!, stored["cases"]!, "cases");
        }
        else
        {
            JsonEqual(built["request"]!, stored["request"]!, "request");
            Assert.Equal((string?)built["path"], (string?)stored["path"]);
        }
    }

    [Fact]
    public void GoldenKey_HoldsTheAddressOfItsPrivateKey_AndTheDerivedSeed()
    {
        var key = VPodKeyFile.Load(Path.Combine(GoldenVectors.Directory, "key", WorkloadProtocol.KeyFileName));

        Assert.Equal(GoldenVectors.Key(VPodId).Address, key.Address);
    }

    [Fact]
    public void VPodTypedData_GivesNethereumsDigestAndSignature_ForAnIdentityAndAGoldenReceipt()
    {
        var privateKey = GoldenVectors.PrivateKey(VPodId);
        var ethKey = new EthECKey(privateKey, true);
        var key = GoldenVectors.Key(VPodId);
        var nonce = GoldenVectors.Bytes32("identity nonce");

        var identityJson = TypedDataJson(
            "Identity",
            """[{"name":"vpod","type":"string"},{"name":"nonce","type":"bytes32"},{"name":"chainId","type":"uint256"}]""",
            $$"""{"vpod":"{{VPodId}}","nonce":"{{FederationHashing.ToHex(nonce)}}","chainId":{{ChainId}}}""");
        var identityDigest = VPodTypedData.IdentityDigest(VPodId, nonce, ChainId);
        Assert.Equal(FederationHashing.ToHex(identityDigest), FederationHashing.ToHex(Sha3Keccack.Current.CalculateHash(Eip712TypedDataEncoder.Current.EncodeTypedData(identityJson))));
        Assert.Equal(key.Sign(identityDigest), new Eip712TypedDataSigner().SignTypedDataV4(identityJson, ethKey).ToLowerInvariant());

        var train = JsonNode.Parse(File.ReadAllText(Path.Combine(GoldenVectors.Directory, "train.json")))!;
        var receipt = JsonSerializer.Deserialize(train["answer"]!["receipt"]!.ToJsonString(), WorkloadJson.Default.ReceiptDto)!;
        var receiptJson = TypedDataJson(
            "TrainingReceipt",
            """[{"name":"job","type":"string"},{"name":"round","type":"uint256"},{"name":"vpod","type":"string"},{"name":"sampleCount","type":"uint256"},{"name":"updateHash","type":"bytes32"}]""",
            $$"""{"job":"{{receipt.Job}}","round":{{receipt.Round}},"vpod":"{{receipt.VPod}}","sampleCount":{{receipt.SampleCount}},"updateHash":"{{receipt.UpdateHash}}"}""");
        var receiptDigest = VPodTypedData.ReceiptDigest(receipt.ToReceipt(), ChainId);
        Assert.Equal(FederationHashing.ToHex(receiptDigest), FederationHashing.ToHex(Sha3Keccack.Current.CalculateHash(Eip712TypedDataEncoder.Current.EncodeTypedData(receiptJson))));
        Assert.Equal(receipt.Signature, new Eip712TypedDataSigner().SignTypedDataV4(receiptJson, ethKey).ToLowerInvariant());
    }

    /// <summary>An <c>eth_signTypedData_v4</c> payload under the vPod domain.</summary>
    private static string TypedDataJson(string primaryType, string members, string message) =>
        $$"""
        {"types":{"EIP712Domain":[{"name":"name","type":"string"},{"name":"version","type":"string"},{"name":"chainId","type":"uint256"}],
                  "{{primaryType}}":{{members}}},
         "primaryType":"{{primaryType}}",
         "domain":{"name":"{{VPodTypedData.DomainName}}","version":"{{VPodTypedData.DomainVersion}}","chainId":{{ChainId}}},
         "message":{{message}}}
        """;

    /// <summary>Deep equality of two JSON values; numbers compare as doubles, exactly; <see cref="Unchecked"/> paths are skipped.</summary>
    internal static void JsonEqual(JsonNode? expected, JsonNode? actual, string path)
    {
        if (Unchecked.Contains(path))
        {
            return;
        }

        if (expected is null || actual is null)
        {
            Assert.True(expected is null && actual is null, $"{path}: expected {expected?.ToJsonString() ?? "null"}, got {actual?.ToJsonString() ?? "null"}");
            return;
        }

        Assert.True(expected.GetValueKind() == actual.GetValueKind() || (IsBoolean(expected) && IsBoolean(actual)),
            $"{path}: expected {expected.GetValueKind()} {expected.ToJsonString()}, got {actual.GetValueKind()} {actual.ToJsonString()}");
        switch (expected)
        {
            case JsonObject expectedObject:
                var actualObject = actual.AsObject();
                Assert.True(expectedObject.Select(p => p.Key).Order(StringComparer.Ordinal).SequenceEqual(actualObject.Select(p => p.Key).Order(StringComparer.Ordinal)),
                    $"{path}: expected fields {string.Join(", ", expectedObject.Select(p => p.Key))}, got {string.Join(", ", actualObject.Select(p => p.Key))}");
                foreach (var (name, value) in expectedObject)
                {
                    JsonEqual(value, actualObject[name], $"{path}.{name}");
                }

                break;
            case JsonArray expectedArray:
                var actualArray = actual.AsArray();
                Assert.True(expectedArray.Count == actualArray.Count, $"{path}: expected {expectedArray.Count} items, got {actualArray.Count}");
                for (var i = 0; i < expectedArray.Count; i++)
                {
                    JsonEqual(expectedArray[i], actualArray[i], $"{path}[]");
                }

                break;
            default:
                if (expected.GetValueKind() == JsonValueKind.Number)
                {
                    var e = double.Parse(expected.ToJsonString(), CultureInfo.InvariantCulture);
                    var a = double.Parse(actual.ToJsonString(), CultureInfo.InvariantCulture);
                    Assert.True(BitConverter.DoubleToInt64Bits(e) == BitConverter.DoubleToInt64Bits(a),
                        string.Create(CultureInfo.InvariantCulture, $"{path}: expected {e:R}, got {a:R}"));
                }
                else
                {
                    Assert.True(expected.ToJsonString() == actual.ToJsonString(), $"{path}: expected {expected.ToJsonString()}, got {actual.ToJsonString()}");
                }

                break;
        }
    }

    private static bool IsBoolean(JsonNode node) => node.GetValueKind() is JsonValueKind.True or JsonValueKind.False;

    /// <summary>The C# workload over a temporary copy of the golden partition and key.</summary>
    private sealed class GoldenWorkload : IAsyncDisposable
    {
        private readonly string _root;
        private readonly InProcessWorkload _workload;
        private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

        private GoldenWorkload(string root, InProcessWorkload workload)
        {
            _root = root;
            _workload = workload;
        }

        public string DataDirectory => Path.Combine(_root, "data");

        public static async Task<GoldenWorkload> StartAsync()
        {
            if (Regenerating)
            {
                GoldenVectors.WriteKey();
            }

            var root = Path.Combine(Path.GetTempPath(), $"metanode-golden-{Guid.NewGuid():N}");
            foreach (var part in new[] { "data", "key" })
            {
                Directory.CreateDirectory(Path.Combine(root, part));
                foreach (var file in Directory.GetFiles(Path.Combine(GoldenVectors.Directory, part)))
                {
                    File.Copy(file, Path.Combine(root, part, Path.GetFileName(file)));
                }
            }

            return new GoldenWorkload(root, await InProcessWorkload.StartAsync(VPodId, Path.Combine(root, "data"), Path.Combine(root, "key")));
        }

        public async Task<(HttpStatusCode Status, JsonNode? Answer)> PostAsync(string path, JsonNode request)
        {
            using var content = new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json");
            using var response = await _http.PostAsync(new Uri(_workload.Endpoint, path), content);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
        }

        public async ValueTask DisposeAsync()
        {
            _http.Dispose();
            await _workload.DisposeAsync();
            Directory.Delete(_root, recursive: true);
        }
    }

    /// <summary>Builds the golden requests from fixed keys and values; RFC 6979 makes every signature in them reproducible.</summary>
    internal static class GoldenVectors
    {
        public static readonly string[] ComputeIds = ["vpod-golden02", "vpod-golden03", "vpod-golden04", "vpod-golden05"];

        public static string Directory
        {
            get
            {
                for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                {
                    var golden = Path.Combine(dir.FullName, "tests", "golden", "workload-v2");
                    if (File.Exists(Path.Combine(dir.FullName, "MetaNode.Grains.sln")) && System.IO.Directory.Exists(golden))
                    {
                        return golden;
                    }
                }

                throw new InvalidOperationException($"tests/golden/workload-v2 was not found above {AppContext.BaseDirectory}.");
            }
        }

        /// <summary>A golden vPod's private key: keccak-256 of the UTF-8 text <c>metanode-golden:{vpodId}</c>.</summary>
        public static byte[] PrivateKey(string vpodId) => FederationHashing.Keccak256(Encoding.UTF8.GetBytes("metanode-golden:" + vpodId));

        public static VPodKey Key(string vpodId) => VPodKey.FromPrivateKey(PrivateKey(vpodId));

        /// <summary>A fixed 32-byte value: keccak-256 of <c>metanode-golden:{label}</c>.</summary>
        public static byte[] Bytes32(string label) => FederationHashing.Keccak256(Encoding.UTF8.GetBytes("metanode-golden:" + label));

        public static void WriteKey()
        {
            var path = Path.Combine(Directory, "key", WorkloadProtocol.KeyFileName);
            if (!File.Exists(path))
            {
                VPodKeyFile.WriteNew(path, Key(VPodId));
            }
        }

        public static void Write(string path, JsonObject vector) => File.WriteAllText(path, vector.ToJsonString(Indented) + "\n");

        public static JsonObject Build(string file) => file switch
        {
            "identity.json" => Vector("The workload signs Identity(vpod, nonce, chainId) under the vPod domain with its own key.", WorkloadProtocol.IdentityPath, Identity(VPodId)),
            "data.json" => Vector("One plain file placed in the data directory (base64 content).", WorkloadProtocol.DataPath,
                new DataRequest([new DataFileDto("notes.txt", Convert.ToBase64String(Encoding.UTF8.GetBytes("golden placement\n")))])),
            "statistics.json" => Vector("Sums and sums of squares of the train split, in file order.", WorkloadProtocol.StatisticsPath, new StatisticsRequest(WorkloadProtocol.TrainSplit)),
            "train.json" => Vector("Three epochs of the reference SGD from the zero model, then the receipt signed under the vPod domain of chain 31337.", WorkloadProtocol.TrainPath, Train()),
            "train-proximal.json" => Vector("FedProx: three epochs from a fixed model with proximalMu 0.5, each step also pulling towards the starting model.", WorkloadProtocol.TrainPath,
                Train() with { Model = ModelDto.From(Global), HyperParameters = new HyperParametersDto(3, 5, 0.1, 42, 0.5) }),
            "evaluate.json" => Vector("Loss and accuracy of a fixed model on the test split.", WorkloadProtocol.EvaluatePath,
                new EvaluateRequest(Job, 1, ModelDto.From(Fixed((p, _) => ((p * 3 % 7) - 3) / 4.0)), Standardization, WorkloadProtocol.TestSplit)),
            "aggregate.json" => WithComputeKeys(Vector(
                "FedAvg (aggregation 'none') with the assigned counts as weights: vpod-golden02..04 honest; vpod-golden03's forged copy (signed by the wrong key) arrives before its real copy and does not hide it; vpod-golden05 claims 1000 samples where the job assigned 10 and is rejected.",
                WorkloadProtocol.AggregatePath, Aggregate())),
            "aggregate-median.json" => WithComputeKeys(Vector(
                "Coordinate-wise median: vpod-golden05's validly signed update lies far from the global model (norm above 5x the median norm) and is screened out.",
                WorkloadProtocol.AggregatePath, AggregateMedian())),
            "aggregate-avgm.json" => WithComputeKeys(Vector(
                "The FedAvg round of aggregate.json with server momentum (avgm, η 1.5, β 0.3) from a given state: the answer's model is the server's step, and the new state comes with its hash and the validator's ServerState signature.",
                WorkloadProtocol.AggregatePath, AggregateAvgM())),
            "aggregate-adam.json" => WithComputeKeys(Vector(
                "The FedAvg round of aggregate.json with FedAdam (η 0.1, β1 0.9, β2 0.99, τ 0.01) from a given state: first and second moments, the step, the state's hash and signature.",
                WorkloadProtocol.AggregatePath, AggregateAdam())),
            "sign-rotation.json" => WithComputeKeys(Vector(
                "Rotation to {vpod-golden01, vpod-golden02}, threshold 2: each proposed address proves its key by signing Identity(vpod, nonce = the rotation digest, chainId).",
                WorkloadProtocol.RotationPath, Rotation(true))),
            _ => throw new ArgumentException($"no golden vector '{file}'", nameof(file)),
        };

        public static JsonObject BuildErrors()
        {
            var aggregate = Aggregate();
            var cases = new JsonArray
            {
                Case("identity-other-vpod", WorkloadProtocol.IdentityPath, Identity("vpod-golden02"), 400),
                Case("identity-short-nonce", WorkloadProtocol.IdentityPath, Identity(VPodId) with { Nonce = "0x1234" }, 400),
                Case("identity-negative-chain", WorkloadProtocol.IdentityPath, Identity(VPodId) with { ChainId = -1 }, 400),
                Case("data-path-traversal", WorkloadProtocol.DataPath,
                    new DataRequest([new DataFileDto("notes.txt", Convert.ToBase64String("ok"u8.ToArray())), new DataFileDto("../x", Convert.ToBase64String("x"u8.ToArray()))]), 400),
                Case("data-leading-dot", WorkloadProtocol.DataPath, new DataRequest([new DataFileDto(".hidden", Convert.ToBase64String("x"u8.ToArray()))]), 400),
                Case("train-assigned-samples-differ", WorkloadProtocol.TrainPath, Train() with { AssignedSamples = 23 }, 409),
                Case("train-without-job", WorkloadProtocol.TrainPath, Train() with { Job = "" }, 400),
                Case("evaluate-unknown-split", WorkloadProtocol.EvaluatePath, new EvaluateRequest(Job, 1, ModelDto.From(Fixed((_, _) => 0)), null, "validation"), 400),
                Case("aggregate-unknown-rule", WorkloadProtocol.AggregatePath, aggregate with { Aggregation = "mean" }, 400),
                Case("aggregate-nothing-valid", WorkloadProtocol.AggregatePath, aggregate with { Updates = [.. aggregate.Updates.Where(u => u.Receipt.VPod == "vpod-golden05")] }, 409),
                Case("aggregate-equivocation", WorkloadProtocol.AggregatePath, aggregate with { Updates = [.. aggregate.Updates.Where(u => u.Receipt.VPod != "vpod-golden04")] }, 409,
                    setup: new JsonObject { ["path"] = WorkloadProtocol.AggregatePath, ["request"] = Node(aggregate), ["status"] = 200 }),
                Case("train-negative-proximal-mu", WorkloadProtocol.TrainPath, Train() with { HyperParameters = new HyperParametersDto(3, 5, 0.1, 42, -0.1) }, 400),
                Case("aggregate-unknown-optimizer", WorkloadProtocol.AggregatePath, AggregateAvgM() with { ServerOptimizer = new ServerOptimizerDto("sgd", 1, 0) }, 400),
                Case("aggregate-avg-with-state", WorkloadProtocol.AggregatePath, AggregateAvgM() with { ServerOptimizer = new ServerOptimizerDto("avg") }, 400),
                Case("aggregate-avgm-with-tau", WorkloadProtocol.AggregatePath, AggregateAvgM() with { ServerOptimizer = new ServerOptimizerDto("avgm", 1.5, 0.3, Tau: 0.01) }, 400),
                Case("aggregate-adam-missing-tau", WorkloadProtocol.AggregatePath, AggregateAdam() with { ServerOptimizer = new ServerOptimizerDto("adam", 0.1, 0.9, 0.99) }, 400),
                Case("aggregate-momentum-of-one", WorkloadProtocol.AggregatePath, AggregateAvgM() with { ServerOptimizer = new ServerOptimizerDto("avgm", 1.5, 1.0) }, 400),
                Case("aggregate-state-wrong-length", WorkloadProtocol.AggregatePath, AggregateAvgM() with { OptimizerState = new OptimizerStateDto([0.1, 0.2]) }, 400),
                Case("aggregate-avgm-with-second-moment", WorkloadProtocol.AggregatePath, AggregateAvgM() with { OptimizerState = new OptimizerStateDto(State(1), State(2)) }, 400),
                Case("aggregate-adam-negative-second-moment", WorkloadProtocol.AggregatePath, AggregateAdam() with { OptimizerState = new OptimizerStateDto(State(1), [.. State(2).Select(v => -v - 1)]) }, 400),
                Case("aggregate-server-step-diverges", WorkloadProtocol.AggregatePath,
                    AggregateAvgM() with { ServerOptimizer = new ServerOptimizerDto("avgm", 100, 0.9), OptimizerState = new OptimizerStateDto([.. State(1).Select(_ => 1e307)]) }, 409),
                Case("rotation-missing-proof", WorkloadProtocol.RotationPath, Rotation(false), 409),
                Case("rotation-threshold-above-validators", WorkloadProtocol.RotationPath, Rotation(true) with { Threshold = 3 }, 400),
            };
            return new JsonObject
            {
                ["description"] = "Requests a workload refuses: 400 for a malformed request, 409 for a conflict with its state. Only the status and the presence of an \"error\" string are compared; a case's setup requests run first on the same fresh copy.",
                ["vpodId"] = VPodId,
                ["cases"] = cases,
            };
        }

        private static StandardizationDto Standardization { get; } = new([2, 2, 2, 2], [1, 1.5, 1.25, 1]);

        private static IdentityRequest Identity(string vpodId) => new(vpodId, FederationHashing.ToHex(Bytes32("identity nonce")), ChainId);

        private static TrainRequest Train() => new(Job, 1, ChainId, 24, ModelDto.From(FederatedModel.Zero(3, 4)), Standardization, new HyperParametersDto(3, 5, 0.1, 42));

        /// <summary>A 3 × 4 model whose parameter p (weights class-major, then biases) is <paramref name="value"/>(p, global[p]).</summary>
        private static FederatedModel Fixed(Func<int, double, double> value)
        {
            var global = Global;
            return new FederatedModel(3, 4, [.. Enumerable.Range(0, global.Parameters.Length).Select(p => value(p, global.Parameters[p]))]);
        }

        private static FederatedModel Global => new(3, 4, [.. Enumerable.Range(0, 15).Select(p => ((p % 5) - 2) / 10.0)]);

        private static FederatedModel Honest(int i) => Fixed((p, g) => g + (((p * 7) + (i * 13)) % 11 - 5) / 100.0);

        private static AggregateRequest Aggregate()
        {
            var forged = Fixed((_, g) => g + 0.5);
            var updates = new List<UpdateDto>
            {
                Update("vpod-golden02", 1, 8, Honest(2)),
                Update("vpod-golden03", 1, 7, forged, signedBy: "vpod-golden05"),
                Update("vpod-golden03", 1, 7, Honest(3)),
                Update("vpod-golden04", 1, 9, Honest(4)),
                Update("vpod-golden05", 1, 1000, Honest(5)),
            };
            return new AggregateRequest(Job, 1, ChainId, Registry, "none", ModelDto.From(Global), Standardization, Participants(8, 7, 9, 10), [.. updates]);
        }

        /// <summary>A fixed optimizer state for the 15 parameters of <see cref="Global"/>: small values of both signs (second moments positive).</summary>
        private static double[] State(int which) =>
            [.. Enumerable.Range(0, 15).Select(p => which == 1 ? (((p * 5) % 9) - 4) / 200.0 : (1 + ((p * 3) % 7)) / 1000.0)];

        private static AggregateRequest AggregateAvgM() =>
            Aggregate() with { ServerOptimizer = new ServerOptimizerDto("avgm", 1.5, 0.3), OptimizerState = new OptimizerStateDto(State(1)) };

        private static AggregateRequest AggregateAdam() =>
            Aggregate() with { ServerOptimizer = new ServerOptimizerDto("adam", 0.1, 0.9, 0.99, 0.01), OptimizerState = new OptimizerStateDto(State(1), State(2)) };

        private static AggregateRequest AggregateMedian()
        {
            var updates = new List<UpdateDto>
            {
                Update("vpod-golden04", 2, 9, Honest(4)),
                Update("vpod-golden02", 2, 8, Honest(2)),
                Update("vpod-golden05", 2, 10, Fixed((p, g) => g + 1.0 + (p % 3))),
                Update("vpod-golden03", 2, 7, Honest(3)),
            };
            return new AggregateRequest(Job, 2, ChainId, Registry, "median", ModelDto.From(Global), Standardization, Participants(8, 7, 9, 10), [.. updates]);
        }

        private static ParticipantDto[] Participants(params long[] assigned) =>
            [.. ComputeIds.Select((id, i) => new ParticipantDto(id, Key(id).Address, assigned[i]))];

        private static UpdateDto Update(string vpodId, int round, long sampleCount, FederatedModel model, string? signedBy = null)
        {
            var receipt = new TrainingReceipt(Job, round, vpodId, sampleCount, ModelEncoding.HashHex(model));
            var signature = Key(signedBy ?? vpodId).Sign(VPodTypedData.ReceiptDigest(receipt, ChainId));
            return new UpdateDto(ReceiptDto.From(receipt with { Signature = signature }), ModelDto.From(model));
        }

        private static RotationRequest Rotation(bool allProofs)
        {
            string[] members = [VPodId, "vpod-golden02"];
            var validators = members.Select(id => Key(id).Address).ToArray();
            const int threshold = 2;
            const long nonce = 1;
            var digest = RegistryTypedData.RotationDigest(new RegistryDomain(ChainId, Registry), validators, threshold, nonce);
            var proofs = members.Take(allProofs ? 2 : 1)
                .Select(id => new IdentityResponse(id, Key(id).Address, Key(id).Sign(VPodTypedData.IdentityDigest(id, digest, ChainId))))
                .ToArray();
            return new RotationRequest(ChainId, Registry, validators, threshold, nonce, proofs);
        }

        private static JsonObject Vector<T>(string description, string path, T request) => new()
        {
            ["description"] = description,
            ["vpodId"] = VPodId,
            ["method"] = "POST",
            ["path"] = path,
            ["request"] = Node(request),
        };

        private static JsonObject WithComputeKeys(JsonObject vector)
        {
            var keys = new JsonObject();
            foreach (var id in ComputeIds)
            {
                keys[id] = new JsonObject { ["address"] = Key(id).Address, ["privateKey"] = "0x" + Convert.ToHexStringLower(PrivateKey(id)) };
            }

            var ordered = new JsonObject();
            foreach (var (name, value) in vector.ToList())
            {
                vector.Remove(name);
                ordered[name] = value;
                if (name == "path")
                {
                    ordered["computeKeys"] = keys;
                }
            }

            return ordered;
        }

        private static JsonObject Case<T>(string name, string path, T request, int status, JsonObject? setup = null)
        {
            var result = new JsonObject { ["name"] = name, ["path"] = path };
            if (setup is not null)
            {
                result["setup"] = new JsonArray(setup);
            }

            result["request"] = Node(request);
            result["status"] = status;
            return result;
        }

        private static JsonNode Node<T>(T value) =>
            JsonNode.Parse(JsonSerializer.Serialize(value, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)WorkloadJson.Default.GetTypeInfo(typeof(T))!))!;
    }
}
