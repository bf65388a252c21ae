using System.Globalization;
using System.Runtime.CompilerServices;
using Docker.DotNet;
using Docker.DotNet.Models;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Docker;

/// <summary>Reads a vPod's container logs from the engine, and follows them across restarts of the container.</summary>
internal sealed class DockerLogReader
{
    private readonly DockerRuntimeOptions _options;
    private readonly DockerEngineConnection _engine;
    private readonly DockerContainerLookup _containers;
    private readonly TimeProvider _timeProvider;

    public DockerLogReader(DockerRuntimeOptions options, DockerEngineConnection engine, DockerContainerLookup containers, TimeProvider timeProvider)
    {
        _options = options;
        _engine = engine;
        _containers = containers;
        _timeProvider = timeProvider;
    }

    /// <summary>The lines matching <paramref name="query"/>; none when the vPod has no container.</summary>
    public async Task<IReadOnlyList<LogLine>> ReadAsync(string vpodId, RuntimeHandle? handle, LogQuery query, CancellationToken cancellationToken)
    {
        var container = await _containers.FindAsync(vpodId, handle, cancellationToken).ConfigureAwait(false);
        if (container is null)
        {
            return [];
        }

        var lines = new List<LogLine>();
        await foreach (var line in ReadContainerLogsAsync(container.ID, query, follow: false, cancellationToken).ConfigureAwait(false))
        {
            lines.Add(line);
        }

        return lines;
    }

    /// <summary>The lines matching <paramref name="query"/>, then new ones as they come; across restarts of the container, until cancelled or it is removed.</summary>
    public async IAsyncEnumerable<LogLine> FollowAsync(string vpodId, RuntimeHandle? handle, LogQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        DateTimeOffset? last = null;
        var next = query;
        while (!cancellationToken.IsCancellationRequested)
        {
            var container = await _containers.FindAsync(vpodId, handle, cancellationToken).ConfigureAwait(false);
            if (container is null)
            {
                yield break;
            }

            await foreach (var line in ReadContainerLogsAsync(container.ID, next, follow: true, cancellationToken).ConfigureAwait(false))
            {
                if (last is { } seen && line.Timestamp <= seen)
                {
                    continue;
                }

                last = line.Timestamp;
                yield return line;
            }

            // The container stopped and the engine ended the stream: wait for it to run again (or to be removed).
            var startedAt = container.State.StartedAt;
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(_options.LogPollInterval, _timeProvider, cancellationToken).ConfigureAwait(false);
                container = await _containers.FindAsync(vpodId, handle, cancellationToken).ConfigureAwait(false);
                if (container is null)
                {
                    yield break;
                }

                if (container.State.Running || container.State.StartedAt != startedAt)
                {
                    break;
                }
            }

            next = new LogQuery(null, last ?? query.Since);
        }
    }

    private async IAsyncEnumerable<LogLine> ReadContainerLogsAsync(string containerId, LogQuery query, bool follow, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var parameters = new ContainerLogsParameters
        {
            ShowStdout = true,
            ShowStderr = true,
            Timestamps = true,
            Follow = follow,
            Tail = query.Tail is { } tail ? tail.ToString(CultureInfo.InvariantCulture) : "all",
            Since = query.Since is { } since ? since.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) : null,
        };
        var from = query.Since;
        if (query.Tail is 0)
        {
            if (!follow)
            {
                yield break;
            }

            // The engine reads tail=0 as "everything": ask from now on instead (the engine's since is in whole seconds).
            from = _timeProvider.GetUtcNow();
            parameters.Tail = "all";
            parameters.Since = from.Value.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        }

        MultiplexedStream stream;
        try
        {
            stream = await _engine.CallAsync((c, ct) => c.Containers.GetContainerLogsAsync(containerId, tty: false, parameters, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (DockerContainerNotFoundException)
        {
            yield break;
        }

        using (stream)
        {
            await foreach (var line in DockerLogLines.ReadAsync(stream, cancellationToken).ConfigureAwait(false))
            {
                if (from is { } earliest && line.Timestamp < earliest)
                {
                    continue;
                }

                yield return line;
            }
        }
    }
}
