using System.Net;
using System.Text;
using MetaNode.Grains.Runtime;

namespace MetaNode.Tests.Infrastructure;

/// <summary>
/// An OTLP/HTTP trace endpoint on loopback (<c>POST /v1/traces</c>, protobuf bodies, answered 200): keeps what the silo's
/// OpenTelemetry exporter sends, so a test can look for its spans' names and attributes in the bytes.
/// </summary>
public sealed class OtlpReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly List<byte[]> _bodies = [];
    private readonly Task _loop;

    public OtlpReceiver()
    {
        Port = LoopbackPorts.Free();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }

    public string Endpoint => $"http://127.0.0.1:{Port}";

    /// <summary>Every body received on <c>/v1/traces</c> with the protobuf content type, as Latin-1 text (names and ids are readable in it).</summary>
    public string Received
    {
        get
        {
            lock (_bodies)
            {
                return string.Concat(_bodies.Select(b => Encoding.Latin1.GetString(b)));
            }
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception exception) when (exception is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            if (context.Request.HttpMethod == "POST" && context.Request.Url?.AbsolutePath == "/v1/traces" && context.Request.ContentType == "application/x-protobuf")
            {
                lock (_bodies)
                {
                    _bodies.Add(body.ToArray());
                }

                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/x-protobuf";
            }
            else
            {
                context.Response.StatusCode = 404;
            }

            context.Response.Close();
        }
    }
}
