using System.Text.Json.Serialization;

namespace MetaNode.Workload;

/// <summary>The workload protocol: <c>GET /healthz</c>, <c>POST /v1/train</c>, <c>POST /v1/evaluate</c>.</summary>
public static class WorkloadEndpoints
{
    public const string NotImplemented = "not implemented yet";

    public static IEndpointRouteBuilder MapWorkloadProtocol(this IEndpointRouteBuilder endpoints, WorkloadSettings settings, TimeProvider time)
    {
        var started = time.GetTimestamp();
        endpoints.MapGet("/healthz", () =>
            Results.Json(new HealthResponse("ok", settings.VPodId, Math.Round(time.GetElapsedTime(started).TotalSeconds, 3))));
        endpoints.MapPost("/v1/train", () => Results.Json(new ErrorResponse(NotImplemented), statusCode: StatusCodes.Status501NotImplemented));
        endpoints.MapPost("/v1/evaluate", () => Results.Json(new ErrorResponse(NotImplemented), statusCode: StatusCodes.Status501NotImplemented));
        return endpoints;
    }

    public sealed record HealthResponse(
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("vpodId")] string VPodId,
        [property: JsonPropertyName("uptimeSeconds")] double UptimeSeconds);

    public sealed record ErrorResponse([property: JsonPropertyName("error")] string Error);
}
