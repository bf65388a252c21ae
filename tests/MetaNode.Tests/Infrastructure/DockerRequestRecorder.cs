using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace MetaNode.Tests.Infrastructure;

/// <summary>
/// A unix socket in front of a Docker Engine's unix socket that passes every byte through unchanged and notes the request line
/// of each Engine API call (<c>POST /containers/create</c>, without the API version or query), so a test can count what a
/// runtime asked the engine for.
/// </summary>
internal sealed partial class DockerRequestRecorder : IAsyncDisposable
{
    private readonly string _upstream;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly Task _accepting;

    /// <param name="engineEndpoint">The engine's endpoint: <c>unix:///path/to/docker.sock</c>.</param>
    public DockerRequestRecorder(string engineEndpoint)
    {
        var uri = new Uri(engineEndpoint);
        if (uri.Scheme != "unix")
        {
            throw new ArgumentException($"only a unix socket engine can be recorded; got {engineEndpoint}", nameof(engineEndpoint));
        }

        _upstream = uri.LocalPath;
        SocketPath = Path.Combine(Path.GetTempPath(), "metanode-engine-" + Guid.NewGuid().ToString("N")[..10] + ".sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(16);
        _accepting = AcceptAsync();
    }

    public string SocketPath { get; }

    /// <summary>The endpoint to give a runtime in place of the engine's.</summary>
    public string Endpoint => "unix://" + SocketPath;

    /// <summary>The calls noted since the last <see cref="Clear"/>, in the order they were sent.</summary>
    public IReadOnlyList<string> Requests => [.. _requests];

    public void Clear() => _requests.Clear();

    [GeneratedRegex(@"^(GET|HEAD|POST|PUT|DELETE) (?:/v[0-9.]+)?(/[^ ?]*)\S* HTTP/1\.[01]$")]
    private static partial Regex RequestLine();

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(Socket client)
    {
        using var engine = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using (client)
        {
            try
            {
                await engine.ConnectAsync(new UnixDomainSocketEndPoint(_upstream), _stop.Token);
                await using var toClient = new NetworkStream(client, ownsSocket: false);
                await using var toEngine = new NetworkStream(engine, ownsSocket: false);
                var up = PumpAsync(toClient, toEngine, note: true);
                var down = PumpAsync(toEngine, toClient, note: false);
                await Task.WhenAny(up, down);
            }
            catch (Exception exception) when (exception is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
            {
                // The connection ended.
            }
        }
    }

    private async Task PumpAsync(Stream from, Stream to, bool note)
    {
        var buffer = new byte[64 * 1024];
        var pending = new StringBuilder();
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
            {
                if (note)
                {
                    Note(pending, buffer.AsSpan(0, read));
                }

                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                await to.FlushAsync(_stop.Token);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
            // Either side closed.
        }
    }

    /// <summary>Notes each complete line of what the client sent that is an HTTP request line.</summary>
    private void Note(StringBuilder pending, ReadOnlySpan<byte> bytes)
    {
        pending.Append(Encoding.Latin1.GetString(bytes));
        var text = pending.ToString();
        var end = text.LastIndexOf("\r\n", StringComparison.Ordinal);
        if (end < 0)
        {
            // Keep a bounded tail only: a request line is short, a body may be long.
            if (pending.Length > 8192)
            {
                pending.Remove(0, pending.Length - 8192);
            }

            return;
        }

        foreach (var line in text[..end].Split("\r\n"))
        {
            if (RequestLine().Match(line) is { Success: true } match)
            {
                _requests.Enqueue($"{match.Groups[1].Value} {match.Groups[2].Value}");
            }
        }

        pending.Clear().Append(text[(end + 2)..]);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        _stop.Dispose();
        File.Delete(SocketPath);
    }
}
