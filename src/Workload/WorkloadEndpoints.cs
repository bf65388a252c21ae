using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using MetaNode.Workload.Learning;

namespace MetaNode.Workload;

/// <summary>
/// The workload protocol: <c>GET /healthz</c>, <c>POST /v1/statistics</c>, <c>POST /v1/train</c>, <c>POST /v1/evaluate</c>
/// (see <c>examples/workload-protocol.md</c>). Client errors answer 400, a data directory without the asked-for split 409,
/// each with <c>{"error": "..."}</c>.
/// </summary>
public static class WorkloadEndpoints
{
    public static IEndpointRouteBuilder MapWorkloadProtocol(this IEndpointRouteBuilder endpoints, WorkloadSettings settings, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var started = time.GetTimestamp();
        var learning = new LocalLearning(new PartitionDirectory(settings.DataDirectory), settings.VPodId);
        endpoints.MapGet("/healthz", () =>
            Results.Json(new HealthResponse("ok", settings.VPodId, Math.Round(time.GetElapsedTime(started).TotalSeconds, 3)), WorkloadJson.Default.HealthResponse));
        endpoints.MapPost("/v1/statistics", context => HandleAsync(context, WorkloadJson.Default.StatisticsRequest, learning.Statistics, WorkloadJson.Default.StatisticsResponse, emptyAllowed: true));
        endpoints.MapPost("/v1/train", context => HandleAsync(context, WorkloadJson.Default.TrainRequest, learning.Train, WorkloadJson.Default.TrainResponse, emptyAllowed: false));
        endpoints.MapPost("/v1/evaluate", context => HandleAsync(context, WorkloadJson.Default.EvaluateRequest, learning.Evaluate, WorkloadJson.Default.EvaluateResponse, emptyAllowed: false));
        return endpoints;
    }

    private static async Task HandleAsync<TRequest, TResponse>(
        HttpContext context,
        JsonTypeInfo<TRequest> requestType,
        Func<TRequest?, TResponse> handle,
        JsonTypeInfo<TResponse> responseType,
        bool emptyAllowed)
        where TRequest : class
    {
        TResponse response;
        try
        {
            var request = await ReadAsync(context, requestType, emptyAllowed);
            response = handle(request);
        }
        catch (InvalidWorkloadRequestException ex)
        {
            await Results.Json(new ErrorResponse(ex.Message), WorkloadJson.Default.ErrorResponse, statusCode: StatusCodes.Status400BadRequest).ExecuteAsync(context);
            return;
        }
        catch (PartitionUnavailableException ex)
        {
            await Results.Json(new ErrorResponse(ex.Message), WorkloadJson.Default.ErrorResponse, statusCode: StatusCodes.Status409Conflict).ExecuteAsync(context);
            return;
        }

        await Results.Json(response, responseType).ExecuteAsync(context);
    }

    private static async Task<TRequest?> ReadAsync<TRequest>(HttpContext context, JsonTypeInfo<TRequest> type, bool emptyAllowed)
        where TRequest : class
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        if (buffer.Length == 0)
        {
            return emptyAllowed ? null : throw new InvalidWorkloadRequestException("The request has no body; send a JSON object.");
        }

        try
        {
            return JsonSerializer.Deserialize(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), type);
        }
        catch (JsonException ex)
        {
            throw new InvalidWorkloadRequestException($"The body is not a valid request: {ex.Message}");
        }
    }
}
