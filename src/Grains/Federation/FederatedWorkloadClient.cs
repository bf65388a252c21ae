using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;
using MetaNode.Federation;

namespace MetaNode.Grains.Federation;

/// <summary>Hyper-parameters of a training request; <see cref="Seed"/> is usually <see cref="FederatedSeeds.Training"/>.</summary>
public sealed record TrainingHyperParameters(int Epochs, int BatchSize, double LearningRate, ulong Seed);

/// <summary>What a workload returned from <c>/v1/train</c>.</summary>
public sealed record TrainingOutcome(string VPodId, FederatedModel Model, long SampleCount, TrainingMetrics Metrics);

/// <summary>What a workload returned from <c>/v1/evaluate</c>.</summary>
public sealed record EvaluationOutcome(string VPodId, string Split, int SampleCount, double Loss, double Accuracy);

/// <summary>
/// The silo's side of the workload protocol (<c>/v1/statistics</c>, <c>/v1/train</c>, <c>/v1/evaluate</c>; see
/// <c>examples/workload-protocol.md</c>). Speaks to any workload, whatever its language; errors become <see cref="WorkloadRequestException"/>.
/// </summary>
public sealed partial class FederatedWorkloadClient(HttpClient http)
{
    public const string StatisticsPath = "/v1/statistics";
    public const string TrainPath = "/v1/train";
    public const string EvaluatePath = "/v1/evaluate";

    public async Task<FeatureMoments> GetStatisticsAsync(Uri endpoint, string split = PartitionWriter.TrainSplit, CancellationToken cancellationToken = default)
    {
        var response = await PostAsync(endpoint, StatisticsPath, new StatisticsBody(split), ClientJson.Default.StatisticsBody, ClientJson.Default.StatisticsAnswer, cancellationToken).ConfigureAwait(false);
        return new FeatureMoments(response.VPodId, response.SampleCount, response.Sum, response.SumOfSquares);
    }

    public async Task<TrainingOutcome> TrainAsync(
        Uri endpoint,
        string job,
        int round,
        FederatedModel model,
        Standardization? standardization,
        TrainingHyperParameters hyperParameters,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(hyperParameters);
        var body = new TrainBody(job, round, ModelBody.From(model), StandardizationBody.From(standardization),
            new HyperParametersBody(hyperParameters.Epochs, hyperParameters.BatchSize, hyperParameters.LearningRate, hyperParameters.Seed));
        var response = await PostAsync(endpoint, TrainPath, body, ClientJson.Default.TrainBody, ClientJson.Default.TrainAnswer, cancellationToken).ConfigureAwait(false);
        var update = response.Update.ToModel(endpoint, TrainPath);
        var metrics = response.Metrics ?? new MetricsBody(double.NaN, double.NaN, 0, 0);
        return new TrainingOutcome(response.VPodId, update, response.SampleCount, new TrainingMetrics(metrics.Loss, metrics.Accuracy, metrics.Steps, metrics.ElapsedMs));
    }

    public async Task<EvaluationOutcome> EvaluateAsync(
        Uri endpoint,
        string job,
        int round,
        FederatedModel model,
        Standardization? standardization,
        string split = PartitionWriter.TestSplit,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var body = new EvaluateBody(job, round, ModelBody.From(model), StandardizationBody.From(standardization), split);
        var response = await PostAsync(endpoint, EvaluatePath, body, ClientJson.Default.EvaluateBody, ClientJson.Default.EvaluateAnswer, cancellationToken).ConfigureAwait(false);
        return new EvaluationOutcome(response.VPodId, response.Split, response.SampleCount, response.Loss, response.Accuracy);
    }

    private async Task<TResponse> PostAsync<TRequest, TResponse>(
        Uri endpoint,
        string path,
        TRequest body,
        System.Text.Json.Serialization.Metadata.JsonTypeInfo<TRequest> requestType,
        System.Text.Json.Serialization.Metadata.JsonTypeInfo<TResponse> responseType,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var target = endpoint.ToString().TrimEnd('/');
        HttpResponseMessage response;
        try
        {
            // A body with a Content-Length (not chunked), which the simplest HTTP servers of any language read.
            using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, requestType));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            response = await http.PostAsync(new Uri(endpoint, path), content, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException || (ex is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new WorkloadRequestException(target, path, 0, ex.Message);
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new WorkloadRequestException(target, path, (int)response.StatusCode, ErrorText(text));
            }

            try
            {
                return JsonSerializer.Deserialize(text, responseType)
                    ?? throw new WorkloadRequestException(target, path, (int)response.StatusCode, "the answer is empty");
            }
            catch (JsonException ex)
            {
                throw new WorkloadRequestException(target, path, (int)response.StatusCode, "the answer is not the protocol's JSON: " + ex.Message);
            }
        }
    }

    private static string ErrorText(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String)
            {
                return error.GetString()!;
            }
        }
        catch (JsonException)
        {
            // Not JSON: report the text itself.
        }

        return body.Length > 500 ? body[..500] : body;
    }

    internal sealed record ModelBody(
        [property: JsonPropertyName("classes")] int Classes,
        [property: JsonPropertyName("features")] int Features,
        [property: JsonPropertyName("weights")] double[] Weights,
        [property: JsonPropertyName("bias")] double[] Bias)
    {
        public static ModelBody From(FederatedModel model) => new(model.Classes, model.Features, model.Weights.ToArray(), model.Bias.ToArray());

        public FederatedModel ToModel(Uri endpoint, string path)
        {
            try
            {
                return FederatedModel.FromWeightsAndBias(Classes, Features, Weights ?? [], Bias ?? []);
            }
            catch (ArgumentException ex)
            {
                throw new WorkloadRequestException(endpoint.ToString().TrimEnd('/'), path, 200, "the returned model is malformed: " + ex.Message);
            }
        }
    }

    internal sealed record StandardizationBody(
        [property: JsonPropertyName("mean")] double[] Mean,
        [property: JsonPropertyName("scale")] double[] Scale)
    {
        public static StandardizationBody? From(Standardization? standardization) =>
            standardization is null ? null : new(standardization.Mean, standardization.Scale);
    }

    internal sealed record HyperParametersBody(
        [property: JsonPropertyName("epochs")] int Epochs,
        [property: JsonPropertyName("batchSize")] int BatchSize,
        [property: JsonPropertyName("learningRate")] double LearningRate,
        [property: JsonPropertyName("seed")] ulong Seed);

    internal sealed record StatisticsBody([property: JsonPropertyName("split")] string Split);

    internal sealed record StatisticsAnswer(
        [property: JsonPropertyName("vpodId")] string VPodId,
        [property: JsonPropertyName("sampleCount")] long SampleCount,
        [property: JsonPropertyName("sum")] double[] Sum,
        [property: JsonPropertyName("sumOfSquares")] double[] SumOfSquares);

    internal sealed record TrainBody(
        [property: JsonPropertyName("job")] string Job,
        [property: JsonPropertyName("round")] int Round,
        [property: JsonPropertyName("model")] ModelBody Model,
        [property: JsonPropertyName("standardization")] StandardizationBody? Standardization,
        [property: JsonPropertyName("hyperParameters")] HyperParametersBody HyperParameters);

    internal sealed record MetricsBody(
        [property: JsonPropertyName("loss")] double Loss,
        [property: JsonPropertyName("accuracy")] double Accuracy,
        [property: JsonPropertyName("steps")] int Steps,
        [property: JsonPropertyName("elapsedMs")] double ElapsedMs);

    internal sealed record TrainAnswer(
        [property: JsonPropertyName("vpodId")] string VPodId,
        [property: JsonPropertyName("update")] ModelBody Update,
        [property: JsonPropertyName("sampleCount")] long SampleCount,
        [property: JsonPropertyName("metrics")] MetricsBody? Metrics);

    internal sealed record EvaluateBody(
        [property: JsonPropertyName("job")] string Job,
        [property: JsonPropertyName("round")] int Round,
        [property: JsonPropertyName("model")] ModelBody Model,
        [property: JsonPropertyName("standardization")] StandardizationBody? Standardization,
        [property: JsonPropertyName("split")] string Split);

    internal sealed record EvaluateAnswer(
        [property: JsonPropertyName("vpodId")] string VPodId,
        [property: JsonPropertyName("split")] string Split,
        [property: JsonPropertyName("sampleCount")] int SampleCount,
        [property: JsonPropertyName("loss")] double Loss,
        [property: JsonPropertyName("accuracy")] double Accuracy);

    [JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
    [JsonSerializable(typeof(StatisticsBody))]
    [JsonSerializable(typeof(StatisticsAnswer))]
    [JsonSerializable(typeof(TrainBody))]
    [JsonSerializable(typeof(TrainAnswer))]
    [JsonSerializable(typeof(EvaluateBody))]
    [JsonSerializable(typeof(EvaluateAnswer))]
    internal sealed partial class ClientJson : JsonSerializerContext;
}
