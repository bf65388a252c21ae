using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace MetaNode.Tests.Infrastructure;

/// <summary>
/// An in-process Kubernetes API server for tests: a Kestrel app on a loopback port that speaks the REST protocol the real
/// client uses (create, get, list, watch, merge patch, delete, pod logs) and keeps objects in memory, so what a test creates
/// it can get, list and watch back. Errors are <c>Status</c> objects with the real codes (404 NotFound, 409 AlreadyExists,
/// 410 Expired on a watch from a compacted resource version). Every request is recorded for assertions.
/// </summary>
public sealed class FakeKubernetesApiServer : IAsyncDisposable
{
    private static readonly Dictionary<string, string> Kinds = new(StringComparer.Ordinal)
    {
        ["pods"] = "Pod",
        ["services"] = "Service",
        ["persistentvolumeclaims"] = "PersistentVolumeClaim",
        ["deployments"] = "Deployment",
        ["statefulsets"] = "StatefulSet",
        ["networkpolicies"] = "NetworkPolicy",
        ["poddisruptionbudgets"] = "PodDisruptionBudget",
    };

    private static readonly HashSet<string> ReturnsDeletedObject = new(StringComparer.Ordinal) { "pods", "services", "persistentvolumeclaims" };

    private readonly object _gate = new();
    private readonly Dictionary<string, JsonObject> _objects = new(StringComparer.Ordinal);
    private readonly List<(long Version, string Type, string Collection, JsonObject Object)> _history = [];
    private readonly List<Channel<(string Type, string Collection, JsonObject Object)>> _watchers = [];
    private readonly Dictionary<string, List<(DateTimeOffset At, string Text)>> _logs = new(StringComparer.Ordinal);
    private readonly List<RecordedRequest> _requests = [];
    private readonly CancellationTokenSource _closeWatches = new();
    private CancellationTokenSource _watchGeneration = new();
    private long _version = 100;
    private long _compactedBelow;
    private WebApplication? _app;

    private FakeKubernetesApiServer()
    {
    }

    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Whether a watch from a compacted resource version is refused with HTTP 410 instead of an ERROR event in a 200 stream (API servers do both).</summary>
    public bool GoneAsHttpStatus { get; set; }

    /// <summary>Whether <c>metrics.k8s.io</c> is served (a cluster with metrics-server); otherwise its paths answer 404.</summary>
    public bool MetricsAvailable { get; set; }

    public sealed record RecordedRequest(string Method, string Path, string Query, string? ContentType, string Body)
    {
        public IReadOnlyDictionary<string, string> QueryValues =>
            Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(Query).ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);

        public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);
    }

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return _requests.ToArray();
            }
        }
    }

    public static async Task<FakeKubernetesApiServer> StartAsync()
    {
        var server = new FakeKubernetesApiServer();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.Run(server.HandleAsync);
        await app.StartAsync();
        server._app = app;
        server.BaseUrl = new Uri(app.Urls.First());
        return server;
    }

    /// <summary>The stored object at <paramref name="path"/> (e.g. <c>apis/apps/v1/namespaces/ns/deployments/name</c>), or null.</summary>
    public JsonObject? Get(string path)
    {
        lock (_gate)
        {
            return _objects.TryGetValue(path.Trim('/'), out var value) ? (JsonObject)value.DeepClone() : null;
        }
    }

    /// <summary>The stored objects of a collection (e.g. <c>api/v1/namespaces/ns/pods</c>).</summary>
    public IReadOnlyList<JsonObject> List(string collection)
    {
        lock (_gate)
        {
            var prefix = collection.Trim('/') + "/";
            return _objects.Where(o => o.Key.StartsWith(prefix, StringComparison.Ordinal) && !o.Key[prefix.Length..].Contains('/', StringComparison.Ordinal))
                .Select(o => (JsonObject)o.Value.DeepClone()).ToList();
        }
    }

    /// <summary>Creates or replaces an object as a controller or kubelet would (a watch sees ADDED or MODIFIED).</summary>
    public void Put(string collection, JsonObject value)
    {
        var name = value["metadata"]?["name"]?.GetValue<string>() ?? throw new ArgumentException("metadata.name is required", nameof(value));
        lock (_gate)
        {
            var key = $"{collection.Trim('/')}/{name}";
            var type = _objects.ContainsKey(key) ? "MODIFIED" : "ADDED";
            Store(collection.Trim('/'), key, value, type);
        }
    }

    /// <summary>Puts a typed object (serialized as the client would).</summary>
    public void Put<T>(string collection, T value) => Put(collection, JsonNode.Parse(k8s.KubernetesJson.Serialize(value))!.AsObject());

    public void AppendPodLog(string @namespace, string pod, DateTimeOffset at, string text)
    {
        lock (_gate)
        {
            var key = $"{@namespace}/{pod}";
            if (!_logs.TryGetValue(key, out var lines))
            {
                _logs[key] = lines = [];
            }

            lines.Add((at, text));
        }
    }

    /// <summary>Compacts history: a watch from any version seen so far gets 410 Gone. Open watches are closed, as the API server does on restart.</summary>
    public void ExpireResourceVersions()
    {
        CancellationTokenSource old;
        lock (_gate)
        {
            _version++;
            _compactedBelow = _version;
            _history.Clear();
            old = _watchGeneration;
            _watchGeneration = new CancellationTokenSource();
        }

        old.Cancel();
        old.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await _closeWatches.CancelAsync();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string body;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync();
        }

        var path = request.Path.Value!.Trim('/');
        lock (_gate)
        {
            _requests.Add(new RecordedRequest(request.Method, "/" + path, request.QueryString.Value ?? string.Empty, request.ContentType, body));
        }

        var route = Route.Parse(path);
        if (route is null || (route.Prefix.StartsWith("apis/metrics.k8s.io", StringComparison.Ordinal) && !MetricsAvailable))
        {
            await WriteStatusAsync(context, HttpStatusCode.NotFound, "NotFound", "the server could not find the requested resource");
            return;
        }

        switch (request.Method, route.Name, route.Subresource)
        {
            case ("POST", null, null):
                await CreateAsync(context, route, body);
                break;
            case ("GET", null, null) when request.Query["watch"] is ["true" or "1"]:
                await WatchAsync(context, route);
                break;
            case ("GET", null, null):
                await ListAsync(context, route);
                break;
            case ("GET", not null, "log"):
                await LogAsync(context, route);
                break;
            case ("GET", not null, null):
                await GetAsync(context, route);
                break;
            case ("PATCH", not null, null):
                await PatchAsync(context, route, body);
                break;
            case ("DELETE", not null, null):
                await DeleteAsync(context, route);
                break;
            default:
                await WriteStatusAsync(context, HttpStatusCode.MethodNotAllowed, "MethodNotAllowed", $"{request.Method} is not supported on {path}");
                break;
        }
    }

    private async Task CreateAsync(HttpContext context, Route route, string body)
    {
        var value = JsonNode.Parse(body)!.AsObject();
        var name = value["metadata"]?["name"]?.GetValue<string>();
        if (string.IsNullOrEmpty(name))
        {
            await WriteStatusAsync(context, HttpStatusCode.UnprocessableEntity, "Invalid", "metadata.name: Required value");
            return;
        }

        JsonObject stored;
        lock (_gate)
        {
            var key = $"{route.Collection}/{name}";
            if (_objects.ContainsKey(key))
            {
                stored = null!;
            }
            else
            {
                value["metadata"]!["uid"] = Guid.NewGuid().ToString();
                value["metadata"]!["creationTimestamp"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
                value["metadata"]!["generation"] = 1;
                stored = Store(route.Collection, key, value, "ADDED");
            }
        }

        if (stored is null)
        {
            await WriteStatusAsync(context, HttpStatusCode.Conflict, "AlreadyExists", $"{route.Resource} \"{name}\" already exists", name);
            return;
        }

        await WriteJsonAsync(context, HttpStatusCode.Created, stored);
    }

    private async Task GetAsync(HttpContext context, Route route)
    {
        var value = Get($"{route.Collection}/{route.Name}");
        if (value is null)
        {
            await WriteStatusAsync(context, HttpStatusCode.NotFound, "NotFound", $"{route.Resource} \"{route.Name}\" not found", route.Name);
            return;
        }

        await WriteJsonAsync(context, HttpStatusCode.OK, value);
    }

    private async Task ListAsync(HttpContext context, Route route)
    {
        var selector = ParseSelector(context.Request.Query["labelSelector"].ToString());
        JsonObject list;
        lock (_gate)
        {
            var items = new JsonArray(List(route.Collection).Where(o => Matches(o, selector)).Select(o => (JsonNode)o).ToArray());
            list = new JsonObject
            {
                ["apiVersion"] = route.ApiVersion,
                ["kind"] = (Kinds.GetValueOrDefault(route.Resource) ?? route.Resource) + "List",
                ["metadata"] = new JsonObject { ["resourceVersion"] = _version.ToString(CultureInfo.InvariantCulture) },
                ["items"] = items,
            };
        }

        await WriteJsonAsync(context, HttpStatusCode.OK, list);
    }

    private async Task WatchAsync(HttpContext context, Route route)
    {
        var query = context.Request.Query;
        var selector = ParseSelector(query["labelSelector"].ToString());
        var from = long.TryParse(query["resourceVersion"].ToString(), CultureInfo.InvariantCulture, out var v) ? v : 0;
        var timeout = int.TryParse(query["timeoutSeconds"].ToString(), CultureInfo.InvariantCulture, out var t) ? TimeSpan.FromSeconds(t) : TimeSpan.FromMinutes(30);
        var channel = Channel.CreateUnbounded<(string Type, string Collection, JsonObject Object)>();
        List<(string Type, JsonObject Object)> backlog;
        bool expired;
        CancellationToken generation;
        lock (_gate)
        {
            expired = from != 0 && from < _compactedBelow;
            backlog = _history.Where(h => h.Version > from && h.Collection == route.Collection).Select(h => (h.Type, h.Object)).ToList();
            generation = _watchGeneration.Token;
            if (!expired)
            {
                _watchers.Add(channel);
            }
        }

        if (expired && GoneAsHttpStatus)
        {
            await WriteStatusAsync(context, HttpStatusCode.Gone, "Expired", $"too old resource version: {from} ({_compactedBelow})");
            return;
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await context.Response.StartAsync();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _closeWatches.Token, generation);
        stop.CancelAfter(timeout);
        try
        {
            if (expired)
            {
                var status = StatusObject(HttpStatusCode.Gone, "Expired", $"too old resource version: {from} ({_compactedBelow})");
                await WriteLineAsync(context, new JsonObject { ["type"] = "ERROR", ["object"] = status }, stop.Token);
                return;
            }

            foreach (var (type, value) in backlog.Where(b => Matches(b.Object, selector)))
            {
                await WriteLineAsync(context, new JsonObject { ["type"] = type, ["object"] = value.DeepClone() }, stop.Token);
            }

            await foreach (var (type, collection, value) in channel.Reader.ReadAllAsync(stop.Token))
            {
                if (collection == route.Collection && Matches(value, selector))
                {
                    await WriteLineAsync(context, new JsonObject { ["type"] = type, ["object"] = value }, stop.Token);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Timeout, a closed connection, or the server "restarting": the watch ends as on a real API server.
        }
        finally
        {
            lock (_gate)
            {
                _watchers.Remove(channel);
            }
        }
    }

    private async Task PatchAsync(HttpContext context, Route route, string body)
    {
        if (context.Request.ContentType?.StartsWith("application/merge-patch+json", StringComparison.Ordinal) != true
            && context.Request.ContentType?.StartsWith("application/strategic-merge-patch+json", StringComparison.Ordinal) != true)
        {
            await WriteStatusAsync(context, HttpStatusCode.UnsupportedMediaType, "UnsupportedMediaType", $"the fake serves merge patches, not {context.Request.ContentType}");
            return;
        }

        JsonObject? stored;
        lock (_gate)
        {
            var key = $"{route.Collection}/{route.Name}";
            if (_objects.TryGetValue(key, out var current))
            {
                var merged = (JsonObject)MergePatch(current.DeepClone(), JsonNode.Parse(body))!;
                merged["metadata"]!["generation"] = long.Parse(current["metadata"]?["generation"]?.ToJsonString() ?? "1", CultureInfo.InvariantCulture) + 1;
                stored = Store(route.Collection, key, merged, "MODIFIED");
            }
            else
            {
                stored = null;
            }
        }

        if (stored is null)
        {
            await WriteStatusAsync(context, HttpStatusCode.NotFound, "NotFound", $"{route.Resource} \"{route.Name}\" not found", route.Name);
            return;
        }

        await WriteJsonAsync(context, HttpStatusCode.OK, stored);
    }

    private async Task DeleteAsync(HttpContext context, Route route)
    {
        JsonObject? removed = null;
        lock (_gate)
        {
            var key = $"{route.Collection}/{route.Name}";
            if (_objects.Remove(key, out var current))
            {
                _version++;
                current["metadata"]!["resourceVersion"] = _version.ToString(CultureInfo.InvariantCulture);
                removed = current;
                Publish("DELETED", route.Collection, current);
            }
        }

        if (removed is null)
        {
            await WriteStatusAsync(context, HttpStatusCode.NotFound, "NotFound", $"{route.Resource} \"{route.Name}\" not found", route.Name);
            return;
        }

        // Like the API server: kinds whose storage returns the deleted object (pods, services, claims) answer with it, the others with a Status.
        await WriteJsonAsync(context, HttpStatusCode.OK, ReturnsDeletedObject.Contains(route.Resource) ? removed : StatusObject(HttpStatusCode.OK, null, null, route.Name));
    }

    private async Task LogAsync(HttpContext context, Route route)
    {
        if (Get($"{route.Collection}/{route.Name}") is null)
        {
            await WriteStatusAsync(context, HttpStatusCode.NotFound, "NotFound", $"pods \"{route.Name}\" not found", route.Name);
            return;
        }

        var query = context.Request.Query;
        var timestamps = query["timestamps"] is ["true"];
        var follow = query["follow"] is ["true"];
        int? tail = int.TryParse(query["tailLines"].ToString(), CultureInfo.InvariantCulture, out var t) ? t : null;
        DateTimeOffset? since = int.TryParse(query["sinceSeconds"].ToString(), CultureInfo.InvariantCulture, out var s) ? DateTimeOffset.UtcNow.AddSeconds(-s) : null;
        var key = $"{route.Namespace}/{route.Name}";
        List<(DateTimeOffset At, string Text)> Snapshot()
        {
            lock (_gate)
            {
                return _logs.TryGetValue(key, out var lines) ? lines.ToList() : [];
            }
        }

        // One snapshot serves the first answer and where following starts, so a line appended in between is never skipped.
        var snapshot = Snapshot();
        var initial = snapshot.Where(l => since is null || l.At >= since).ToList();
        if (tail is { } n && initial.Count > n)
        {
            initial = initial[^n..];
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/plain";
        await context.Response.StartAsync();
        string Format((DateTimeOffset At, string Text) line) =>
            (timestamps ? line.At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'00Z '", CultureInfo.InvariantCulture) : string.Empty) + line.Text + "\n";

        foreach (var line in initial)
        {
            await context.Response.WriteAsync(Format(line), context.RequestAborted);
        }

        await context.Response.Body.FlushAsync(context.RequestAborted);
        if (!follow)
        {
            return;
        }

        var sent = snapshot.Count;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _closeWatches.Token);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var lines = Snapshot();
                foreach (var line in lines.Skip(sent))
                {
                    await context.Response.WriteAsync(Format(line), stop.Token);
                }

                sent = lines.Count;
                await context.Response.Body.FlushAsync(stop.Token);
                await Task.Delay(20, stop.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private JsonObject Store(string collection, string key, JsonObject value, string type)
    {
        _version++;
        var metadata = value["metadata"]!.AsObject();
        metadata["resourceVersion"] = _version.ToString(CultureInfo.InvariantCulture);
        var route = Route.Parse(collection + "/x")!;
        metadata["namespace"] = route.Namespace;
        value["apiVersion"] ??= route.ApiVersion;
        value["kind"] ??= Kinds.GetValueOrDefault(route.Resource);
        _objects[key] = value;
        Publish(type, collection, value);
        return (JsonObject)value.DeepClone();
    }

    private void Publish(string type, string collection, JsonObject value)
    {
        var snapshot = (JsonObject)value.DeepClone();
        _history.Add((_version, type, collection, snapshot));
        foreach (var watcher in _watchers)
        {
            watcher.Writer.TryWrite((type, collection, (JsonObject)snapshot.DeepClone()));
        }
    }

    private static JsonNode? MergePatch(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        var result = target as JsonObject ?? new JsonObject();
        foreach (var (name, value) in patchObject)
        {
            if (value is null)
            {
                result.Remove(name);
            }
            else
            {
                var merged = MergePatch(result[name]?.DeepClone(), value);
                result[name] = merged;
            }
        }

        return result;
    }

    private static Dictionary<string, string> ParseSelector(string selector) =>
        selector.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(part => part.Split('=', 2))
            .ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : string.Empty, StringComparer.Ordinal);

    private static bool Matches(JsonObject value, Dictionary<string, string> selector) =>
        selector.All(s => value["metadata"]?["labels"]?[s.Key]?.GetValue<string>() == s.Value);

    private static async Task WriteLineAsync(HttpContext context, JsonObject value, CancellationToken cancellationToken)
    {
        await context.Response.WriteAsync(value.ToJsonString() + "\n", cancellationToken);
        await context.Response.Body.FlushAsync(cancellationToken);
    }

    private static async Task WriteJsonAsync(HttpContext context, HttpStatusCode status, JsonNode value)
    {
        context.Response.StatusCode = (int)status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(value.ToJsonString());
    }

    private static Task WriteStatusAsync(HttpContext context, HttpStatusCode status, string reason, string message, string? name = null) =>
        WriteJsonAsync(context, status, StatusObject(status, reason, message, name));

    private static JsonObject StatusObject(HttpStatusCode status, string? reason, string? message, string? name = null) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = (int)status < 400 ? "Success" : "Failure",
        ["message"] = message,
        ["reason"] = reason,
        ["details"] = name is null ? null : new JsonObject { ["name"] = name },
        ["code"] = (int)status,
    };

    /// <summary><c>api/v1/namespaces/NS/RESOURCE[/NAME[/SUB]]</c> or <c>apis/GROUP/VERSION/namespaces/NS/RESOURCE[/NAME[/SUB]]</c>.</summary>
    private sealed record Route(string Prefix, string Namespace, string Resource, string? Name, string? Subresource)
    {
        public string Collection => $"{Prefix}/namespaces/{Namespace}/{Resource}";

        public string ApiVersion => Prefix == "api/v1" ? "v1" : Prefix["apis/".Length..];

        public static Route? Parse(string path)
        {
            var parts = path.Split('/');
            var prefixLength = parts is ["api", ..] ? 2 : parts is ["apis", ..] ? 3 : -1;
            if (prefixLength < 0 || parts.Length < prefixLength + 3 || parts[prefixLength] != "namespaces" || parts.Length > prefixLength + 5)
            {
                return null;
            }

            return new Route(
                string.Join('/', parts[..prefixLength]),
                parts[prefixLength + 1],
                parts[prefixLength + 2],
                parts.Length > prefixLength + 3 ? parts[prefixLength + 3] : null,
                parts.Length > prefixLength + 4 ? parts[prefixLength + 4] : null);
        }
    }
}
