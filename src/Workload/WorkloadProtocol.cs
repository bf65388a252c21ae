using System.Text.Json.Serialization;

namespace MetaNode.Workload;

/// <summary>
/// A softmax-regression model on the wire: <c>weights</c> holds <c>classes × features</c> values, class-major (class k's
/// weight for feature j at <c>k * features + j</c>); <c>bias</c> holds one value per class.
/// </summary>
public sealed record ModelDto(
    [property: JsonPropertyName("classes")] int Classes,
    [property: JsonPropertyName("features")] int Features,
    [property: JsonPropertyName("weights")] double[] Weights,
    [property: JsonPropertyName("bias")] double[] Bias);

/// <summary>The global standardization every workload applies before training or evaluating: <c>(x - mean[j]) / scale[j]</c>.</summary>
public sealed record StandardizationDto(
    [property: JsonPropertyName("mean")] double[] Mean,
    [property: JsonPropertyName("scale")] double[] Scale);

public sealed record HyperParametersDto(
    [property: JsonPropertyName("epochs")] int Epochs,
    [property: JsonPropertyName("batchSize")] int BatchSize,
    [property: JsonPropertyName("learningRate")] double LearningRate,
    [property: JsonPropertyName("seed")] ulong Seed);

public sealed record StatisticsRequest([property: JsonPropertyName("split")] string? Split);

public sealed record StatisticsResponse(
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("split")] string Split,
    [property: JsonPropertyName("sampleCount")] int SampleCount,
    [property: JsonPropertyName("features")] int Features,
    [property: JsonPropertyName("sum")] double[] Sum,
    [property: JsonPropertyName("sumOfSquares")] double[] SumOfSquares);

public sealed record TrainRequest(
    [property: JsonPropertyName("job")] string? Job,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("model")] ModelDto? Model,
    [property: JsonPropertyName("standardization")] StandardizationDto? Standardization,
    [property: JsonPropertyName("hyperParameters")] HyperParametersDto? HyperParameters);

public sealed record TrainingMetricsDto(
    [property: JsonPropertyName("loss")] double Loss,
    [property: JsonPropertyName("accuracy")] double Accuracy,
    [property: JsonPropertyName("steps")] int Steps,
    [property: JsonPropertyName("elapsedMs")] double ElapsedMs);

public sealed record TrainResponse(
    [property: JsonPropertyName("job")] string Job,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("update")] ModelDto Update,
    [property: JsonPropertyName("sampleCount")] int SampleCount,
    [property: JsonPropertyName("metrics")] TrainingMetricsDto Metrics);

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

public sealed record HealthResponse(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("vpodId")] string VPodId,
    [property: JsonPropertyName("uptimeSeconds")] double UptimeSeconds);

public sealed record ErrorResponse([property: JsonPropertyName("error")] string Error);

[JsonSerializable(typeof(StatisticsRequest))]
[JsonSerializable(typeof(StatisticsResponse))]
[JsonSerializable(typeof(TrainRequest))]
[JsonSerializable(typeof(TrainResponse))]
[JsonSerializable(typeof(EvaluateRequest))]
[JsonSerializable(typeof(EvaluateResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(ErrorResponse))]
public sealed partial class WorkloadJson : JsonSerializerContext;
