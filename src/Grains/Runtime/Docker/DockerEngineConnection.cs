using System.Net;
using System.Net.Sockets;
using Docker.DotNet;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Docker;

/// <summary>
/// The connection to one Docker Engine: a client made on first use (so a bad endpoint fails the first call, not the silo), and
/// engine calls with a timeout, where an unreachable engine or a call that times out becomes an error naming the endpoint.
/// </summary>
internal sealed partial class DockerEngineConnection : IDisposable
{
    private readonly ILogger _logger;
    private readonly Lazy<DockerClient> _client;
    private DockerClientConfiguration? _configuration;

    public DockerEngineConnection(string endpoint, ILogger logger)
    {
        Endpoint = endpoint;
        _logger = logger;

        // A bad DOCKER_HOST must not stop the silo (other runtimes work without it): it fails the first docker call instead.
        _client = new Lazy<DockerClient>(
            () =>
            {
                if (!DockerRuntimeOptionsValidator.IsValidEndpoint(Endpoint, out var error))
                {
                    throw new InvalidOperationException(
                        $"The Docker endpoint {error}; got '{Endpoint}' (from {DockerRuntimeOptions.SectionName}:Endpoint or DOCKER_HOST).");
                }

                _configuration = new DockerClientConfiguration(new Uri(Endpoint), defaultTimeout: Timeout.InfiniteTimeSpan);
                return _configuration.CreateClient();
            },
            LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The Engine API endpoint.</summary>
    public string Endpoint { get; }

    /// <summary>The client (made on first use).</summary>
    public DockerClient Client => _client.Value;

    /// <summary>Runs one engine call with a timeout; an unreachable engine or a call that times out becomes an error naming the endpoint.</summary>
    public async Task<T> CallAsync<T>(Func<DockerClient, CancellationToken, Task<T>> call, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var client = _client.Value;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            return await call(client, limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The Docker Engine at {Endpoint} did not answer within {timeout}.");
        }
        catch (Exception exception) when (exception is HttpRequestException or SocketException or IOException && exception is not DockerApiException)
        {
            LogEngineUnreachable(_logger, exception, Endpoint);
            throw new InvalidOperationException(
                $"The Docker Engine at {Endpoint} is not reachable ({exception.GetBaseException().Message}): start dockerd there, or point {DockerRuntimeOptions.SectionName}:Endpoint (or DOCKER_HOST) at a running engine.",
                exception);
        }
    }

    public Task CallAsync(Func<DockerClient, CancellationToken, Task> call, TimeSpan timeout, CancellationToken cancellationToken) =>
        CallAsync(
            async (c, ct) =>
            {
                await call(c, ct).ConfigureAwait(false);
                return true;
            },
            timeout,
            cancellationToken);

    /// <summary>Awaits an engine call that fails with 409 Conflict when the container is not running (it stopped meanwhile).</summary>
    public static async Task IgnoreNotRunningAsync(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (DockerApiException exception) when (exception.StatusCode == HttpStatusCode.Conflict)
        {
            // It stopped between the inspect and the kill.
        }
    }

    /// <summary>The engine's own message of a failed call: the <c>message</c> of its JSON error body, else the body, else the exception's message.</summary>
    public static string EngineMessage(DockerApiException exception)
    {
        var body = exception.ResponseBody?.Trim();
        if (!string.IsNullOrEmpty(body) && body.StartsWith('{'))
        {
            try
            {
                using var json = System.Text.Json.JsonDocument.Parse(body);
                if (json.RootElement.TryGetProperty("message", out var message) && message.GetString() is { Length: > 0 } text)
                {
                    return text;
                }
            }
            catch (System.Text.Json.JsonException)
            {
                // Not the engine's JSON error shape: show it as it is.
            }
        }

        return string.IsNullOrEmpty(body) ? exception.Message : body;
    }

    public void Dispose()
    {
        if (_client.IsValueCreated)
        {
            _client.Value.Dispose();
        }

        _configuration?.Dispose();
    }
}
