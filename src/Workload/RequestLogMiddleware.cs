using System.Diagnostics;

namespace MetaNode.Workload;

/// <summary>Writes one line per request: method, path, status code and elapsed milliseconds.</summary>
public sealed partial class RequestLogMiddleware(RequestDelegate next, ILogger<RequestLogMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var failed = false;
        try
        {
            await next(context);
        }
        catch
        {
            failed = true;
            throw;
        }
        finally
        {
            var status = failed && !context.Response.HasStarted ? StatusCodes.Status500InternalServerError : context.Response.StatusCode;
            LogRequest(logger, context.Request.Method, context.Request.Path.Value ?? "/", status, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }
}
