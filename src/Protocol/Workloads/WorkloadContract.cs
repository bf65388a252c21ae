using System.Text.Json.Serialization;
using MetaNode.Federation;

namespace MetaNode.Workloads;

/// <summary>
/// The workload protocol, version 2 (<c>examples/workload-protocol.md</c>): the one definition of its paths, variables and JSON
/// records, used by the silo's client and by the C# workload. Any other implementation (the Python workload) is checked against the
/// golden vectors in <c>tests/golden/workload-v2</c>.
/// </summary>
public static class WorkloadProtocol
{
    public const int Version = 2;

    public const string HealthPath = "/healthz";
    public const string IdentityPath = "/v2/identity";
    public const string DataPath = "/v2/data";
    public const string StatisticsPath = "/v2/statistics";
    public const string TrainPath = "/v2/train";
    public const string EvaluatePath = "/v2/evaluate";
    public const string AggregatePath = "/v2/aggregate";
    public const string RotationPath = "/v2/sign-rotation";

    public const string HostVariable = "METANODE_HOST";
    public const string PortVariable = "METANODE_PORT";
    public const string VPodIdVariable = "METANODE_VPOD_ID";
    public const string DataDirectoryVariable = "METANODE_DATA_DIR";
    public const string KeyDirectoryVariable = "METANODE_KEY_DIR";

    public const string TrainSplit = "train";
    public const string TestSplit = "test";

    /// <summary>The key file in the key directory: <c>{"address": "0x…", "privateKey": "0x…"}</c>, mode 0600.</summary>
    public const string KeyFileName = "vpod-key.json";

    /// <summary>The validator's durable record of what it signed: one JSON object a line (<see cref="SignedRoundRecord"/>).</summary>
    public const string SignedRoundsFileName = "signed-rounds.jsonl";

    /// <summary>Largest data placement the protocol carries in one request (all files' decoded bytes).</summary>
    public const long MaxDataBytes = 64L * 1024 * 1024;
}

/// <summary>A softmax model on the wire: <c>weights</c> class-major (<c>classes × features</c>), then one <c>bias</c> per class.</summary>
public sealed record ModelDto(
    [property: JsonPropertyName("classes")] int Classes,
    [property: JsonPropertyName("features")] int Features,
    [property: JsonPropertyName("weights")] double[] Weights,
    [property: JsonPropertyName("bias")] double[] Bias)
{
    public static ModelDto From(FederatedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new(model.Classes, model.Features, model.Weights.ToArray(), model.Bias.ToArray());
    }

    /// <summary>The model; throws <see cref="ArgumentException"/> when the shape and the arrays disagree.</summary>
    public FederatedModel ToModel() => FederatedModel.FromWeightsAndBias(Classes, Features, Weights ?? [], Bias ?? []);
}

/// <summary>The global standardization: <c>(x - mean[j]) / scale[j]</c>.</summary>
public sealed record StandardizationDto(
    [property: JsonPropertyName("mean")] double[] Mean,
    [property: JsonPropertyName("scale")] double[] Scale)
{
    public static StandardizationDto? From(Standardization? standardization) =>
        standardization is null ? null : new(standardization.Mean, standardization.Scale);
}

/// <summary>Local training's settings; <c>proximalMu</c> is FedProx's μ (absent: 0, plain SGD).</summary>
public sealed record HyperParametersDto(
    [property: JsonPropertyName("epochs")] int Epochs,
    [property: JsonPropertyName("batchSize")] int BatchSize,
    [property: JsonPropertyName("learningRate")] double LearningRate,
    [property: JsonPropertyName("seed")] ulong Seed,
    [property: JsonPropertyName("proximalMu")] double? ProximalMu = null);

/// <summary>The server optimizer a round's validators apply to the aggregate (<c>kind</c> avg, avgm or adam; see "The server optimizer").</summary>
public sealed record ServerOptimizerDto(
    [property: JsonPropertyName("kind")] string? Kind,
    [property: JsonPropertyName("learningRate")] double? LearningRate = null,
    [property: JsonPropertyName("momentum")] double? Momentum = null,
    [property: JsonPropertyName("beta2")] double? Beta2 = null,
    [property: JsonPropertyName("tau")] double? Tau = null)
{
    /// <summary>The wire form of an optimizer; null for <c>avg</c>, so plain federated-average rounds carry no optimizer.</summary>
    public static ServerOptimizerDto? From(ServerOptimizer? optimizer) => optimizer switch
    {
        null or { Kind: ServerOptimizerKind.Average } => null,
        { Kind: ServerOptimizerKind.Momentum } => new(ServerOptimizer.MomentumName, optimizer.LearningRate, optimizer.Momentum),
        _ => new(optimizer.Name, optimizer.LearningRate, optimizer.Momentum, optimizer.Beta2, optimizer.Tau),
    };

    /// <summary>The optimizer this names (unchecked: see <see cref="ServerOptimizer.Problems"/>); an unknown kind reads as <c>avg</c>.</summary>
    public ServerOptimizer ToOptimizer() => Kind switch
    {
        ServerOptimizer.MomentumName => new(ServerOptimizerKind.Momentum, LearningRate ?? 0, Momentum ?? 0),
        ServerOptimizer.AdamName => new(ServerOptimizerKind.Adam, LearningRate ?? 0, Momentum ?? 0, Beta2 ?? 0, Tau ?? 0),
        _ => ServerOptimizer.Average,
    };
}

/// <summary>A server optimizer's state on the wire: <c>momentum</c>, and for adam <c>secondMoment</c>, in parameter order.</summary>
public sealed record OptimizerStateDto(
    [property: JsonPropertyName("momentum")] double[]? Momentum,
    [property: JsonPropertyName("secondMoment")] double[]? SecondMoment = null)
{
    public static OptimizerStateDto? From(ServerOptimizerState? state) => state is null ? null : new(state.Momentum, state.SecondMoment);
}

public sealed record HealthResponse(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("uptimeSeconds")] double UptimeSeconds,
    [property: JsonPropertyName("protocol")] int Protocol = WorkloadProtocol.Version);

/// <summary>The silo's challenge: sign <c>Identity(vpod, nonce, chainId)</c> with the vPod's key.</summary>
public sealed record IdentityRequest(
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("nonce")] string Nonce,
    [property: JsonPropertyName("chainId")] long ChainId);

/// <summary>An identity proof: the address and its EIP-712 signature over the challenge (65 bytes, <c>0x</c> hex).</summary>
public sealed record IdentityResponse(
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("address")] string Address,
    [property: JsonPropertyName("signature")] string Signature);

public sealed record DataFileDto(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("content")] string Content);

/// <summary>Files for the data directory, written in order (each atomically); <c>content</c> is base64.</summary>
public sealed record DataRequest([property: JsonPropertyName("files")] DataFileDto[] Files);

public sealed record DataResponse(
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("files")] int Files,
    [property: JsonPropertyName("bytes")] long Bytes);

public sealed record StatisticsRequest([property: JsonPropertyName("split")] string? Split);

public sealed record StatisticsResponse(
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("split")] string Split,
    [property: JsonPropertyName("sampleCount")] int SampleCount,
    [property: JsonPropertyName("features")] int Features,
    [property: JsonPropertyName("sum")] double[] Sum,
    [property: JsonPropertyName("sumOfSquares")] double[] SumOfSquares);

/// <summary>
/// Train for a round. <c>assignedSamples</c> is the row count the job placed with this vPod: a workload holding another count
/// refuses (409) rather than sign a receipt the validators will reject.
/// </summary>
public sealed record TrainRequest(
    [property: JsonPropertyName("job")] string? Job,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("chainId")] long ChainId,
    [property: JsonPropertyName("assignedSamples")] long? AssignedSamples,
    [property: JsonPropertyName("model")] ModelDto? Model,
    [property: JsonPropertyName("standardization")] StandardizationDto? Standardization,
    [property: JsonPropertyName("hyperParameters")] HyperParametersDto? HyperParameters);

public sealed record TrainingMetricsDto(
    [property: JsonPropertyName("loss")] double Loss,
    [property: JsonPropertyName("accuracy")] double Accuracy,
    [property: JsonPropertyName("steps")] int Steps,
    [property: JsonPropertyName("elapsedMs")] double ElapsedMs);

/// <summary>A training receipt on the wire, with the compute vPod's EIP-712 signature.</summary>
public sealed record ReceiptDto(
    [property: JsonPropertyName("job")] string Job,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("vpod")] string VPod,
    [property: JsonPropertyName("sampleCount")] long SampleCount,
    [property: JsonPropertyName("updateHash")] string UpdateHash,
    [property: JsonPropertyName("signature")] string? Signature)
{
    public static ReceiptDto From(TrainingReceipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        return new(receipt.Job, receipt.Round, receipt.VPodId, receipt.SampleCount, receipt.UpdateHash, receipt.Signature);
    }

    public TrainingReceipt ToReceipt() => new(Job ?? string.Empty, Round, VPod ?? string.Empty, SampleCount, UpdateHash ?? string.Empty, Signature);
}

public sealed record TrainResponse(
    [property: JsonPropertyName("job")] string Job,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("update")] ModelDto Update,
    [property: JsonPropertyName("sampleCount")] long SampleCount,
    [property: JsonPropertyName("metrics")] TrainingMetricsDto? Metrics,
    [property: JsonPropertyName("receipt")] ReceiptDto Receipt);

public sealed record EvaluateRequest(
    [property: JsonPropertyName("job")] string? Job,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("model")] ModelDto? Model,
    [property: JsonPropertyName("standardization")] StandardizationDto? Standardization,
    [property: JsonPropertyName("split")] string? Split);

public sealed record EvaluateResponse(
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("split")] string Split,
    [property: JsonPropertyName("sampleCount")] int SampleCount,
    [property: JsonPropertyName("loss")] double Loss,
    [property: JsonPropertyName("accuracy")] double Accuracy);

/// <summary>A participant of a round as the job fixed it.</summary>
public sealed record ParticipantDto(
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("address")] string Address,
    [property: JsonPropertyName("assignedSamples")] long AssignedSamples);

public sealed record UpdateDto(
    [property: JsonPropertyName("receipt")] ReceiptDto Receipt,
    [property: JsonPropertyName("model")] ModelDto Model);

/// <summary>
/// A validator's work for a round: the facts the job fixed and every copy of every update received. The validator verifies,
/// aggregates, evaluates on its held-out split and signs the registry's <c>FinalizeRound</c> digest of what it computed — once per
/// (chain, registry, job, round).
/// </summary>
public sealed record AggregateRequest(
    [property: JsonPropertyName("job")] string Job,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("chainId")] long ChainId,
    [property: JsonPropertyName("registry")] string Registry,
    [property: JsonPropertyName("aggregation")] string Aggregation,
    [property: JsonPropertyName("global")] ModelDto Global,
    [property: JsonPropertyName("standardization")] StandardizationDto? Standardization,
    [property: JsonPropertyName("participants")] ParticipantDto[] Participants,
    [property: JsonPropertyName("updates")] UpdateDto[] Updates,
    [property: JsonPropertyName("serverOptimizer")] ServerOptimizerDto? ServerOptimizer = null,
    [property: JsonPropertyName("optimizerState")] OptimizerStateDto? OptimizerState = null);

public sealed record RejectedDto(
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("reason")] string Reason);

public sealed record EvaluationDto(
    [property: JsonPropertyName("split")] string Split,
    [property: JsonPropertyName("sampleCount")] int SampleCount,
    [property: JsonPropertyName("loss")] double Loss,
    [property: JsonPropertyName("accuracy")] double Accuracy);

public sealed record AggregateResponse(
    [property: JsonPropertyName("job")] string Job,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("signer")] string Signer,
    [property: JsonPropertyName("signature")] string Signature,
    [property: JsonPropertyName("resultHash")] string ResultHash,
    [property: JsonPropertyName("receiptsRoot")] string ReceiptsRoot,
    [property: JsonPropertyName("modelRef")] string ModelRef,
    [property: JsonPropertyName("participants")] string[] Participants,
    [property: JsonPropertyName("totalSamples")] long TotalSamples,
    [property: JsonPropertyName("rejected")] RejectedDto[] Rejected,
    [property: JsonPropertyName("model")] ModelDto Model,
    [property: JsonPropertyName("evaluation")] EvaluationDto? Evaluation,
    [property: JsonPropertyName("modelCid")] string? ModelCid = null,
    [property: JsonPropertyName("optimizerState")] OptimizerStateDto? OptimizerState = null,
    [property: JsonPropertyName("stateHash")] string? StateHash = null,
    [property: JsonPropertyName("stateSignature")] string? StateSignature = null);

/// <summary>
/// Sign a rotation of the registry's validator set. Every proposed address comes with an identity proof whose nonce is the rotation's
/// EIP-712 digest, so the validator checks each new key itself.
/// </summary>
public sealed record RotationRequest(
    [property: JsonPropertyName("chainId")] long ChainId,
    [property: JsonPropertyName("registry")] string Registry,
    [property: JsonPropertyName("validators")] string[] Validators,
    [property: JsonPropertyName("threshold")] int Threshold,
    [property: JsonPropertyName("nonce")] long Nonce,
    [property: JsonPropertyName("proofs")] IdentityResponse[] Proofs);

public sealed record SignatureResponse(
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("signer")] string Signer,
    [property: JsonPropertyName("signature")] string Signature);

/// <summary>One line of <see cref="WorkloadProtocol.SignedRoundsFileName"/>: the digest a validator signed for a round.</summary>
public sealed record SignedRoundRecord(
    [property: JsonPropertyName("chainId")] long ChainId,
    [property: JsonPropertyName("registry")] string Registry,
    [property: JsonPropertyName("job")] string Job,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("digest")] string Digest);

public sealed record ErrorResponse([property: JsonPropertyName("error")] string Error);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(IdentityRequest))]
[JsonSerializable(typeof(IdentityResponse))]
[JsonSerializable(typeof(DataRequest))]
[JsonSerializable(typeof(DataResponse))]
[JsonSerializable(typeof(StatisticsRequest))]
[JsonSerializable(typeof(StatisticsResponse))]
[JsonSerializable(typeof(TrainRequest))]
[JsonSerializable(typeof(TrainResponse))]
[JsonSerializable(typeof(EvaluateRequest))]
[JsonSerializable(typeof(EvaluateResponse))]
[JsonSerializable(typeof(AggregateRequest))]
[JsonSerializable(typeof(AggregateResponse))]
[JsonSerializable(typeof(RotationRequest))]
[JsonSerializable(typeof(SignatureResponse))]
[JsonSerializable(typeof(SignedRoundRecord))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(SecAggKeysRequest))]
[JsonSerializable(typeof(SecAggKeysDto))]
[JsonSerializable(typeof(SecAggSharesRequest))]
[JsonSerializable(typeof(SecAggSharesResponse))]
[JsonSerializable(typeof(SecAggTrainRequest))]
[JsonSerializable(typeof(SecAggTrainResponse))]
[JsonSerializable(typeof(SecAggSurvivorsRequest))]
[JsonSerializable(typeof(SecAggSignatureDto))]
[JsonSerializable(typeof(SecAggRevealRequest))]
[JsonSerializable(typeof(SecAggRevealDto))]
[JsonSerializable(typeof(SecAggAggregateRequest))]
[JsonSerializable(typeof(BlockListResponse))]
public sealed partial class WorkloadJson : JsonSerializerContext;
