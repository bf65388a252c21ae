using System.Collections.Concurrent;
using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Kubernetes;

/// <summary>
/// The pods the runtime manages in one namespace, kept current by a list and then a watch from the list's resource version
/// (one JSON event per line). When the API server answers 410 Gone (the resource version was compacted), the cache lists again;
/// when a watch ends (its timeout), it is renewed from the last version seen.
/// </summary>
internal sealed partial class KubernetesPodCache : IAsyncDisposable
{
    private readonly IKubernetes _client;
    private readonly string _namespace;
    private readonly string _labelSelector;
    private readonly string _vpodIdLabel;
    private readonly KubernetesRuntimeOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, V1Pod> _pods = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public KubernetesPodCache(IKubernetes client, string @namespace, string vpodIdLabel, KubernetesRuntimeOptions options, ILogger logger)
    {
        _client = client;
        _namespace = @namespace;
        _vpodIdLabel = vpodIdLabel;
        _labelSelector = $"{KubernetesNames.ManagedByLabel}={KubernetesNames.ManagedBy}";
        _options = options;
        _logger = logger;
        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>How many times the cache listed the namespace's pods (the first sync plus every re-list after 410 Gone or an error).</summary>
    public int ListCount { get; private set; }

    /// <summary>The pods of one vPod; null when the cache has not finished its first list within <see cref="KubernetesRuntimeOptions.SyncTimeout"/>.</summary>
    public async Task<IReadOnlyList<V1Pod>?> TryGetPodsAsync(string vpodId, CancellationToken cancellationToken)
    {
        try
        {
            await _synced.Task.WaitAsync(_options.SyncTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            return null;
        }

        return _pods.Values
            .Where(p => p.Metadata?.Labels is { } labels && labels.TryGetValue(_vpodIdLabel, out var id) && id == vpodId)
            .OrderBy(p => p.Metadata.Name, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Drops a pod the runtime has just deleted, so a status read right after a stop never sees it (its deletion event follows on the watch).</summary>
    public void Forget(string podName) => _pods.TryRemove(podName, out _);

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var list = await _client.CoreV1.ListNamespacedPodAsync(_namespace, labelSelector: _labelSelector, cancellationToken: cancellationToken);
                ListCount++;
                // Brought in line with the list in place (never emptied first), so a concurrent read never misses a running pod.
                var listed = list.Items.ToDictionary(p => p.Metadata.Name, StringComparer.Ordinal);
                foreach (var name in _pods.Keys.Where(name => !listed.ContainsKey(name)))
                {
                    _pods.TryRemove(name, out _);
                }

                foreach (var (name, pod) in listed)
                {
                    _pods[name] = pod;
                }

                _synced.TrySetResult();
                await WatchFromAsync(list.Metadata?.ResourceVersion, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                LogWatchFailed(_logger, _namespace, _options.RetryDelay, exception);
                try
                {
                    await Task.Delay(_options.RetryDelay, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Watches from <paramref name="resourceVersion"/>, renewing the watch when it ends; returns when the version expired (410 Gone).</summary>
    private async Task WatchFromAsync(string? resourceVersion, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var gone = false;
            void OnError(Exception exception)
            {
                if (exception is KubernetesException { Status.Code: (int)HttpStatusCode.Gone })
                {
                    gone = true;
                }
                else
                {
                    LogWatchEventError(_logger, _namespace, exception);
                }
            }

            try
            {
                var events = _client.CoreV1.WatchListNamespacedPodAsync(
                    _namespace,
                    allowWatchBookmarks: true,
                    labelSelector: _labelSelector,
                    resourceVersion: resourceVersion,
                    timeoutSeconds: (int)Math.Ceiling(_options.WatchTimeout.TotalSeconds),
                    onError: OnError,
                    cancellationToken: cancellationToken);
                await foreach (var (type, pod) in events)
                {
                    resourceVersion = pod.Metadata?.ResourceVersion ?? resourceVersion;
                    switch (type)
                    {
                        case WatchEventType.Added or WatchEventType.Modified:
                            _pods[pod.Metadata!.Name] = pod;
                            break;
                        case WatchEventType.Deleted:
                            _pods.TryRemove(pod.Metadata!.Name, out _);
                            break;
                    }
                }
            }
            catch (HttpOperationException exception) when (exception.Response.StatusCode == HttpStatusCode.Gone)
            {
                gone = true;
            }

            if (gone)
            {
                LogResourceVersionExpired(_logger, _namespace, resourceVersion);
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}
