using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace MetaNode.Tests.Chain;

/// <summary>
/// A JSON-RPC pass-through on a loopback port in front of a node that can refuse <c>eth_sendRawTransaction</c> (a
/// JSON-RPC error; nothing reaches the node), records every raw transaction it refused or forwarded, and can answer
/// <c>eth_getTransactionCount</c> at the latest block with queued stale values (a node answering from a chain it left).
/// </summary>
internal sealed class RpcSendGate : IAsyncDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly string _target;
    private WebApplication? _app;
    private volatile bool _refuse;
    private int _staleGiven;

    private RpcSendGate(string target) => _target = target;

    public string Url { get; private set; } = string.Empty;

    public ConcurrentQueue<string> Refused { get; } = new();

    public ConcurrentQueue<string> Forwarded { get; } = new();

    /// <summary>Answers for the next <c>eth_getTransactionCount(…, "latest")</c> calls, one each, in place of the node's.</summary>
    public ConcurrentQueue<long> StaleMinedNonces { get; } = new();

    /// <summary>How many stale nonce answers were given.</summary>
    public int StaleAnswersGiven => _staleGiven;

    public bool RefuseSends
    {
        get => _refuse;
        set => _refuse = value;
    }

    public static async Task<RpcSendGate> StartAsync(string target)
    {
        var gate = new RpcSendGate(target);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.Run(gate.HandleAsync);
        await app.StartAsync();
        gate._app = app;
        gate.Url = app.Urls.First();
        return gate;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        _http.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        using (var request = JsonDocument.Parse(body))
        {
            var root = request.RootElement;
            if (root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("method", out var method)
                && method.GetString() == "eth_sendRawTransaction")
            {
                var raw = root.GetProperty("params")[0].GetString()!;
                if (RefuseSends)
                {
                    Refused.Enqueue(raw);
                    var id = root.TryGetProperty("id", out var value) ? value.GetRawText() : "null";
                    context.Response.ContentType = "application/json";
                    await context.Response.WriteAsync($$$"""{"jsonrpc":"2.0","id":{{{id}}},"error":{"code":-32000,"message":"send refused by the gate"}}""");
                    return;
                }

                Forwarded.Enqueue(raw);
            }

            if (root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("method", out var counted)
                && counted.GetString() == "eth_getTransactionCount"
                && root.GetProperty("params")[1].GetString() == "latest"
                && StaleMinedNonces.TryDequeue(out var stale))
            {
                Interlocked.Increment(ref _staleGiven);
                var id = root.TryGetProperty("id", out var value) ? value.GetRawText() : "null";
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync($$$"""{"jsonrpc":"2.0","id":{{{id}}},"result":"0x{{{stale:x}}}"}""");
                return;
            }
        }

        using var response = await _http.PostAsync(_target, new StringContent(body, Encoding.UTF8, "application/json"));
        context.Response.StatusCode = (int)response.StatusCode;
        context.Response.ContentType = "application/json";
        await response.Content.CopyToAsync(context.Response.Body);
    }
}
