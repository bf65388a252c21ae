namespace MetaNode.Workload;

public sealed partial class RequestLogMiddleware
{
    [LoggerMessage(100, LogLevel.Information, "{Method} {Path} {StatusCode} {ElapsedMs:0.0}ms", EventName = "Request")]
    private static partial void LogRequest(ILogger logger, string method, string path, int statusCode, double elapsedMs);
}
