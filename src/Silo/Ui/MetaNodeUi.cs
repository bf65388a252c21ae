using System.Text.Json;
using MetaNode.Chain;
using MetaNode.Federation;

namespace MetaNode.Silo.Ui;

/// <summary>
/// The MetaNode view under <c>/ui</c>: vPods, clusters, jobs (with each round's accuracy, timings and transaction) and a
/// round's on-chain record. Pages are static (embedded HTML, JavaScript and CSS, nothing loaded from elsewhere) and poll
/// the JSON under <c>/ui/api/</c> every second. Nothing here changes anything. With TLS on, the silo's HTTP access check
/// stands in front of every path here, as in front of the dashboard.
/// </summary>
public static partial class MetaNodeUi
{
    public const string Prefix = "/ui";

    /// <summary>No script, style, image or connection from anywhere but this silo; no framing.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static readonly Dictionary<string, string> Assets = new(StringComparer.Ordinal)
    {
        ["app.js"] = "text/javascript; charset=utf-8",
        ["app.css"] = "text/css; charset=utf-8",
    };

    /// <summary>
    /// Maps the pages, their JSON and assets, and adds the "MetaNode" link to the dashboard mounted at <paramref name="dashboardPrefix"/>.
    /// Call it after <c>UseMetaNodeHttpAccess</c>, so that the access check runs in front of its middleware.
    /// </summary>
    public static void MapMetaNodeUi(this WebApplication app, string dashboardPrefix = "/dashboard")
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Use(DashboardLink.Middleware(dashboardPrefix));
        app.Use(async (http, next) =>
        {
            if (http.Request.Path.StartsWithSegments(Prefix, StringComparison.Ordinal))
            {
                var headers = http.Response.Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                headers.CacheControl = "no-store";
            }

            await next(http);
        });

        var data = new UiData(app.Services.GetRequiredService<IGrainFactory>());
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MetaNode.Ui");
        var ui = app.MapGroup(Prefix);
        ui.MapGet("/", () => Results.Redirect(Prefix + "/vpods"));
        foreach (var page in new[] { "/vpods", "/clusters", "/jobs", "/jobs/{id}", "/jobs/{id}/rounds/{round}" })
        {
            ui.MapGet(page, () => Results.Bytes(Resource("page.html"), "text/html; charset=utf-8"));
        }

        ui.MapGet("/assets/{name}", (string name) => Assets.TryGetValue(name, out var type)
            ? Results.Bytes(Resource(name), type)
            : Results.NotFound());

        var api = ui.MapGroup("/api");
        api.MapGet("/vpods", (CancellationToken ct) => AnswerAsync(logger, "vpods", () => data.VPodsAsync(ct)));
        api.MapGet("/clusters", (CancellationToken ct) => AnswerAsync(logger, "clusters", () => data.ClustersAsync(ct)));
        api.MapGet("/jobs", (CancellationToken ct) => AnswerAsync(logger, "jobs", () => data.JobsAsync(ct)));
        api.MapGet("/jobs/{id}", (string id, CancellationToken ct) => UiData.CheckJobId(id) is { } refused
            ? Task.FromResult(Error(StatusCodes.Status400BadRequest, refused))
            : AnswerAsync(logger, "job", () => data.JobAsync(id, ct)));
        api.MapGet("/jobs/{id}/rounds/{round}", (string id, string round, CancellationToken ct) =>
        {
            var refused = CheckRound(round, out var number);
            refused = UiData.CheckJobId(id) ?? refused;
            return refused is not null
                ? Task.FromResult(Error(StatusCodes.Status400BadRequest, refused))
                : AnswerAsync(logger, "round", () => data.RoundAsync(id, number, ct));
        });
    }

    private static async Task<IResult> AnswerAsync<T>(ILogger logger, string view, Func<Task<T>> read)
    {
        try
        {
            return Results.Json(await read(), Json);
        }
        catch (JobNotFoundException ex)
        {
            return Error(StatusCodes.Status404NotFound, ex.Message);
        }
        catch (InvalidChainRequestException ex)
        {
            return Error(StatusCodes.Status400BadRequest, ex.Message);
        }
        catch (ChainUnavailableException ex)
        {
            return Error(StatusCodes.Status503ServiceUnavailable, ex.Message);
        }
        catch (Exception ex) when (ex is TimeoutException or OrleansException or SiloUnavailableException)
        {
            LogReadFailed(logger, view, ex);
            return Error(StatusCodes.Status503ServiceUnavailable, $"the cluster did not answer: {ex.Message}");
        }
    }

    /// <summary>Why a round number is refused, or null with <paramref name="number"/> set.</summary>
    internal static string? CheckRound(string round, out long number) =>
        long.TryParse(round, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out number)
            ? null
            : $"invalid round '{round}': use a round number, 0 or more.";

    private static IResult Error(int status, string message) => Results.Json(new { error = message }, Json, statusCode: status);

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> Resources = new(StringComparer.Ordinal);

    /// <summary>An embedded file of the view (read once).</summary>
    private static byte[] Resource(string name) => Resources.GetOrAdd(name, static name =>
    {
        using var stream = typeof(MetaNodeUi).Assembly.GetManifestResourceStream("MetaNode.Silo.Ui.wwwroot." + name)
            ?? throw new InvalidOperationException($"the view's resource '{name}' is missing from the silo assembly.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });
}
