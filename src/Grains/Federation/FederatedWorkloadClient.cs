using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using MetaNode.Federation;
using MetaNode.VPods;
using MetaNode.Workloads;

namespace MetaNode.Grains.Federation;

/// <summary>Hyper-parameters of a training request; <see cref="Seed"/> is usually <see cref="FederatedSeeds.Training"/>.</summary>
public sealed record TrainingHyperParameters(int Epochs, int BatchSize, double LearningRate, ulong Seed, double ProximalMu = 0);

/// <summary>What a workload returned from <c>/v2/train</c>: the trained model and the receipt the workload signed over it.</summary>
public sealed record TrainingOutcome(string VPodId, FederatedModel Model, long SampleCount, TrainingMetrics Metrics, TrainingReceipt Receipt);

/// <summary>What a workload returned from <c>/v2/evaluate</c>.</summary>
public sealed record EvaluationOutcome(string VPodId, string Split, int SampleCount, double Loss, double Accuracy);

/// <summary>
/// The silo's side of the workload protocol, version 2 (<see cref="WorkloadProtocol"/>; <c>examples/workload-protocol.md</c>): identity,
/// data placement, statistics, training, evaluation, aggregation and rotation signing. Speaks to any workload, whatever its language
/// or runtime; errors become <see cref="WorkloadRequestException"/>. It never holds a key: every signature comes from the workload.
/// Answers are read up to <c>maxResponseBytes</c> (<see cref="FederatedJobOptions.MaxWorkloadResponseBytes"/>): a larger one is
/// refused from its Content-Length, or as soon as more has arrived, never buffered whole.
/// </summary>
public sealed partial class FederatedWorkloadClient(HttpClient http, long maxResponseBytes = FederatedWorkloadClient.DefaultMaxResponseBytes)
{
    /// <summary>Default largest answer: 64 MiB, far above a model update of the largest data set (10,000 classes × 100 features is ~25 MB of JSON).</summary>
    public const long DefaultMaxResponseBytes = 64L * 1024 * 1024;

    public long MaxResponseBytes { get; } = maxResponseBytes > 0 && maxResponseBytes < Array.MaxLength
        ? maxResponseBytes
        : throw new ArgumentOutOfRangeException(nameof(maxResponseBytes), maxResponseBytes, "The answer limit must be positive and below 2 GiB.");

    /// <summary>Asks the workload to sign <c>Identity(vpodId, nonce, chainId)</c>; the caller recovers and checks the address.</summary>
    public Task<IdentityResponse> ProveIdentityAsync(Uri endpoint, string vpodId, ReadOnlyMemory<byte> nonce, long chainId, CancellationToken cancellationToken = default) =>
        PostAsync(endpoint, WorkloadProtocol.IdentityPath, new IdentityRequest(vpodId, FederationHashing.ToHex(nonce.Span), chainId), WorkloadJson.Default.IdentityRequest, WorkloadJson.Default.IdentityResponse, cancellationToken);

    /// <summary>Places files in the workload's data directory, in order (the manifest last).</summary>
    public Task<DataResponse> PlaceDataAsync(Uri endpoint, VPodDataFiles files, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        var body = new DataRequest(files.Files.Select(f => new DataFileDto(f.Name, Convert.ToBase64String(f.Content))).ToArray());
        return PostAsync(endpoint, WorkloadProtocol.DataPath, body, WorkloadJson.Default.DataRequest, WorkloadJson.Default.DataResponse, cancellationToken);
    }

    public async Task<FeatureMoments> GetStatisticsAsync(Uri endpoint, string split = WorkloadProtocol.TrainSplit, CancellationToken cancellationToken = default)
    {
        var response = await PostAsync(endpoint, WorkloadProtocol.StatisticsPath, new StatisticsRequest(split), WorkloadJson.Default.StatisticsRequest, WorkloadJson.Default.StatisticsResponse, cancellationToken).ConfigureAwait(false);
        return new FeatureMoments(response.VPodId, response.SampleCount, response.Sum, response.SumOfSquares);
    }

    public async Task<TrainingOutcome> TrainAsync(
        Uri endpoint,
        string job,
        int round,
        long chainId,
        long? assignedSamples,
        FederatedModel model,
        Standardization? standardization,
        TrainingHyperParameters hyperParameters,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(hyperParameters);
        var body = new TrainRequest(job, round, chainId, assignedSamples, ModelDto.From(model), StandardizationDto.From(standardization),
            new HyperParametersDto(hyperParameters.Epochs, hyperParameters.BatchSize, hyperParameters.LearningRate, hyperParameters.Seed, hyperParameters.ProximalMu > 0 ? hyperParameters.ProximalMu : null));
        var response = await PostAsync(endpoint, WorkloadProtocol.TrainPath, body, WorkloadJson.Default.TrainRequest, WorkloadJson.Default.TrainResponse, cancellationToken).ConfigureAwait(false);
        var update = ToModel(response.Update, endpoint, WorkloadProtocol.TrainPath);
        if (response.Receipt is null)
        {
            throw new WorkloadRequestException(Target(endpoint), WorkloadProtocol.TrainPath, 200, "the answer carries no signed receipt");
        }

        var metrics = response.Metrics ?? new TrainingMetricsDto(double.NaN, double.NaN, 0, 0);
        return new TrainingOutcome(response.VPodId, update, response.SampleCount, new TrainingMetrics(metrics.Loss, metrics.Accuracy, metrics.Steps, metrics.ElapsedMs), response.Receipt.ToReceipt());
    }

    public async Task<EvaluationOutcome> EvaluateAsync(
        Uri endpoint,
        string job,
        int round,
        FederatedModel model,
        Standardization? standardization,
        string split = WorkloadProtocol.TestSplit,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var body = new EvaluateRequest(job, round, ModelDto.From(model), StandardizationDto.From(standardization), split);
        var response = await PostAsync(endpoint, WorkloadProtocol.EvaluatePath, body, WorkloadJson.Default.EvaluateRequest, WorkloadJson.Default.EvaluateResponse, cancellationToken).ConfigureAwait(false);
        return new EvaluationOutcome(response.VPodId, response.Split, response.SampleCount, response.Loss, response.Accuracy);
    }

    /// <summary>Hands a validator workload the round's facts and updates; it verifies, aggregates, evaluates and signs what it computed.</summary>
    public Task<AggregateResponse> AggregateAsync(Uri endpoint, AggregateRequest request, CancellationToken cancellationToken = default) =>
        PostAsync(endpoint, WorkloadProtocol.AggregatePath, request, WorkloadJson.Default.AggregateRequest, WorkloadJson.Default.AggregateResponse, cancellationToken);

    /// <summary>Asks a validator workload to sign a rotation; it checks every proposed address's identity proof itself.</summary>
    public Task<SecAggKeysDto> SecureKeysAsync(Uri endpoint, SecAggKeysRequest request, CancellationToken cancellationToken = default) =>
        PostAsync(endpoint, SecureAggregationPaths.Keys, request, WorkloadJson.Default.SecAggKeysRequest, WorkloadJson.Default.SecAggKeysDto, cancellationToken);

    public Task<SecAggSharesResponse> SecureSharesAsync(Uri endpoint, SecAggSharesRequest request, CancellationToken cancellationToken = default) =>
        PostAsync(endpoint, SecureAggregationPaths.Shares, request, WorkloadJson.Default.SecAggSharesRequest, WorkloadJson.Default.SecAggSharesResponse, cancellationToken);

    public Task<SecAggTrainResponse> SecureTrainAsync(Uri endpoint, SecAggTrainRequest request, CancellationToken cancellationToken = default) =>
        PostAsync(endpoint, SecureAggregationPaths.Train, request, WorkloadJson.Default.SecAggTrainRequest, WorkloadJson.Default.SecAggTrainResponse, cancellationToken);

    public Task<SecAggSignatureDto> SecureSurvivorsAsync(Uri endpoint, SecAggSurvivorsRequest request, CancellationToken cancellationToken = default) =>
        PostAsync(endpoint, SecureAggregationPaths.Survivors, request, WorkloadJson.Default.SecAggSurvivorsRequest, WorkloadJson.Default.SecAggSignatureDto, cancellationToken);

    public Task<SecAggRevealDto> SecureRevealAsync(Uri endpoint, SecAggRevealRequest request, CancellationToken cancellationToken = default) =>
        PostAsync(endpoint, SecureAggregationPaths.Reveal, request, WorkloadJson.Default.SecAggRevealRequest, WorkloadJson.Default.SecAggRevealDto, cancellationToken);

    public Task<AggregateResponse> SecureAggregateAsync(Uri endpoint, SecAggAggregateRequest request, CancellationToken cancellationToken = default) =>
        PostAsync(endpoint, SecureAggregationPaths.Aggregate, request, WorkloadJson.Default.SecAggAggregateRequest, WorkloadJson.Default.AggregateResponse, cancellationToken);

    public Task<SignatureResponse> SignRotationAsync(Uri endpoint, RotationRequest request, CancellationToken cancellationToken = default) =>
        PostAsync(endpoint, WorkloadProtocol.RotationPath, request, WorkloadJson.Default.RotationRequest, WorkloadJson.Default.SignatureResponse, cancellationToken);

    /// <summary>The model of an answer; a malformed one is the workload's error.</summary>
    public static FederatedModel ToModel(ModelDto? model, Uri endpoint, string path)
    {
        try
        {
            return model?.ToModel() ?? throw new ArgumentException("the answer has no model");
        }
        catch (ArgumentException ex)
        {
            throw new WorkloadRequestException(Target(endpoint), path, 200, "the returned model is malformed: " + ex.Message);
        }
    }

    private static string Target(Uri endpoint) => endpoint.ToString().TrimEnd('/');

    private async Task<TResponse> PostAsync<TRequest, TResponse>(
        Uri endpoint,
        string path,
        TRequest body,
        JsonTypeInfo<TRequest> requestType,
        JsonTypeInfo<TResponse> responseType,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var target = Target(endpoint);
        // The headers come within the client's timeout; the body is read under the same bound (HttpClient does not time it once the headers are in).
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (http.Timeout != Timeout.InfiniteTimeSpan)
        {
            timeout.CancelAfter(http.Timeout);
        }

        HttpResponseMessage response;
        try
        {
            // A body with a Content-Length (not chunked), which the simplest HTTP servers of any language read.
            using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, requestType));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(endpoint, path)) { Content = content };
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new WorkloadRequestException(target, path, 0, ex.Message);
        }

        using (response)
        {
            byte[] bytes;
            try
            {
                bytes = await ReadBoundedAsync(response.Content, MaxResponseBytes, timeout.Token).ConfigureAwait(false);
            }
            catch (AnswerTooLargeException ex)
            {
                throw new WorkloadRequestException(target, path, (int)response.StatusCode, ex.Message);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                throw new WorkloadRequestException(target, path, (int)response.StatusCode, "the answer could not be read: " + ex.Message);
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new WorkloadRequestException(target, path, (int)response.StatusCode, ErrorText(Encoding.UTF8.GetString(bytes)));
            }

            try
            {
                return JsonSerializer.Deserialize(bytes, responseType)
                    ?? throw new WorkloadRequestException(target, path, (int)response.StatusCode, "the answer is empty");
            }
            catch (JsonException ex)
            {
                throw new WorkloadRequestException(target, path, (int)response.StatusCode, "the answer is not the protocol's JSON: " + ex.Message);
            }
        }
    }

    /// <summary>
    /// The body of an answer, at most <paramref name="maxBytes"/>: refused from a larger Content-Length before any of it is read, else
    /// as soon as one byte more than the limit has come (so at most the limit plus one read buffer is held).
    /// </summary>
    public static async Task<byte[]> ReadBoundedAsync(HttpContent content, long maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (content.Headers.ContentLength is { } declared && declared > maxBytes)
        {
            throw new AnswerTooLargeException($"the answer declares {declared} bytes, more than the limit of {maxBytes} bytes ({FederatedJobOptions.SectionName}:{nameof(FederatedJobOptions.MaxWorkloadResponseBytes)}); it was not read");
        }

        await using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, maxBytes + 1 - buffer.Length)), cancellationToken).ConfigureAwait(false)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > maxBytes)
            {
                throw new AnswerTooLargeException($"the answer is larger than the limit of {maxBytes} bytes ({FederatedJobOptions.SectionName}:{nameof(FederatedJobOptions.MaxWorkloadResponseBytes)}); reading stopped there");
            }
        }

        return buffer.ToArray();
    }

    /// <summary>An answer over the limit (turned into a <see cref="WorkloadRequestException"/> naming the workload).</summary>
    public sealed class AnswerTooLargeException(string message) : Exception(message);

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
}
