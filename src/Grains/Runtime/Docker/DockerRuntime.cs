using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Docker.DotNet;
using Docker.DotNet.Models;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Runtime.Docker;

/// <summary>
/// Runs vPod workloads as containers of a Docker Engine (any Engine API endpoint: unix socket or tcp). A silo-local singleton.
/// <para>
/// A vPod's container is named <c>{ContainerNamePrefix}{vpodId}</c> and labelled with the vPod's id, name, type and cluster, so
/// creating it again (a retry, a second activation, another silo) finds it instead of making a duplicate, and a silo that
/// restarts finds it by its labels. The engine's restart policy is <c>no</c>: the vPod grain applies the vPod's own policy.
/// Containers outlive the silo: a silo that stops leaves them running for the next one to adopt.
/// </para>
/// <para>
/// Each vPod has a named volume <c>{container}-key</c> at <c>/vpod/key</c> (<c>METANODE_KEY_DIR</c>) for the workload's own key.
/// Every container made for the vPod mounts that same volume, so the key survives restarts and re-created containers; it is
/// labelled with the vPod's id and removed with the vPod.
/// </para>
/// <para>
/// Nothing connects to the engine before a docker vPod is used; an unreachable engine then fails the call with a message naming
/// the endpoint (configuration <c>MetaNode:Runtime:Docker:Endpoint</c>, else <c>DOCKER_HOST</c>, else the default socket).
/// </para>
/// </summary>
public sealed partial class DockerRuntime : IVPodRuntime, IDisposable
{
    private readonly DockerRuntimeOptions _options;
    private readonly ILogger<DockerRuntime> _logger;
    /// <summary>How often, and how far apart, an exit by SIGKILL is inspected again for the engine's out-of-memory mark (at most 0.5 s).</summary>
    private const int OomSettleInspections = 5;
    private static readonly TimeSpan OomSettleInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Only an exit this recent can still be waiting for its out-of-memory mark.</summary>
    private static readonly TimeSpan OomSettleWindow = TimeSpan.FromSeconds(5);

    private readonly TimeProvider _timeProvider;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);
    private readonly Lazy<DockerClient> _client;
    private DockerClientConfiguration? _configuration;

    public DockerRuntime(IOptions<DockerRuntimeOptions> options, ILogger<DockerRuntime> logger, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options.Value;
        _logger = logger;
        _timeProvider = timeProvider ?? TimeProvider.System;
        Endpoint = _options.ResolveEndpoint();

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

    public DeploymentMethod Method => DeploymentMethod.Docker;

    /// <summary>Containers keep running when the silo stops; the next silo adopts them.</summary>
    public bool WorkloadsOutliveSilo => true;

    /// <summary>The Engine API endpoint in use; recorded as <see cref="RuntimeHandle.Node"/>.</summary>
    public string Endpoint { get; }

    /// <summary>The Docker.DotNet client of this runtime (for tools and tests that look at the engine directly).</summary>
    public IDockerClient Client => _client.Value;

    /// <summary>Finds or creates the vPod's container (pulling its image when needed); it is not started.</summary>
    public async Task<RuntimeHandle> ProvisionAsync(string vpodId, VPodSpec spec, CancellationToken cancellationToken = default)
    {
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(spec);
        ValidateSpec(vpodId, spec);
        var gate = Gate(vpodId);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var container = await FindOrCreateAsync(vpodId, spec, cancellationToken).ConfigureAwait(false);
            return HandleOf(container);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Starts the vPod's container (creating it first if it is gone); a running container is left as it is.</summary>
    public async Task<RuntimeHandle> StartAsync(string vpodId, VPodSpec spec, RuntimeHandle? handle, CancellationToken cancellationToken = default)
    {
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(spec);
        ValidateSpec(vpodId, spec);
        var gate = Gate(vpodId);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var container = await FindAsync(vpodId, handle, cancellationToken).ConfigureAwait(false)
                ?? await FindOrCreateAsync(vpodId, spec, cancellationToken).ConfigureAwait(false);
            if (container.State.Running)
            {
                return HandleOf(container);
            }

            await CallAsync((c, ct) => c.Containers.StartContainerAsync(container.ID, new ContainerStartParameters(), ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            LogStarted(vpodId, Short(container.ID), spec.Image ?? string.Empty);
            if (IsHostNetwork(container))
            {
                // The endpoint is known from the labels: no need to ask the engine again.
                return HandleOf(container) with { StartedAt = _timeProvider.GetUtcNow() };
            }

            // Published ports are assigned at start: read them back.
            container = await InspectByIdAsync(container.ID, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"vPod '{vpodId}': container {Short(container.ID)} disappeared while starting on the Docker Engine at {Endpoint}.");
            return HandleOf(container);
        }
        finally
        {
            gate.Release();
        }
    }

    public async Task<WorkloadObservation> InspectAsync(string vpodId, RuntimeHandle handle, CancellationToken cancellationToken = default)
    {
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(handle);
        var container = await FindAsync(vpodId, handle, cancellationToken).ConfigureAwait(false);
        if (container is null)
        {
            return WorkloadObservation.NotFound($"container {Short(handle.Id)} no longer exists on the Docker Engine at {Endpoint}");
        }

        var state = container.State;
        if (state.Running || state.Restarting)
        {
            return new WorkloadObservation(WorkloadState.Running);
        }

        // The engine marks a container OOM-killed when it handles the kernel's out-of-memory event, which can come just after
        // the exit: a SIGKILL exit not (yet) marked is inspected again a few times before it is told as a plain kill.
        var fresh = DateTimeOffset.TryParse(state.FinishedAt, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var finished)
            && _timeProvider.GetUtcNow() - finished < OomSettleWindow;
        for (var settle = 0; fresh && settle < OomSettleInspections && state.Status is "exited" && state.ExitCode == 137 && !state.OOMKilled; settle++)
        {
            await Task.Delay(OomSettleInterval, _timeProvider, cancellationToken).ConfigureAwait(false);
            if (await InspectByIdAsync(container.ID, cancellationToken).ConfigureAwait(false) is not { } again)
            {
                break;
            }

            state = again.State;
        }

        return state.Status switch
        {
            "created" => new WorkloadObservation(WorkloadState.Created),
            "exited" or "dead" => new WorkloadObservation(
                WorkloadState.Exited,
                (int)state.ExitCode,
                state.OOMKilled,
                string.IsNullOrEmpty(state.Error) ? null : state.Error),
            "removing" => WorkloadObservation.NotFound($"container {Short(container.ID)} is being removed"),
            _ => new WorkloadObservation(WorkloadState.Unknown, Detail: $"container {Short(container.ID)} is {state.Status}"),
        };
    }

    /// <summary>SIGTERM, then SIGKILL after <paramref name="timeout"/> (engine stop); <paramref name="force"/> kills at once. Returns the exit code.</summary>
    public async Task<int?> StopAsync(string vpodId, RuntimeHandle handle, TimeSpan timeout, bool force, CancellationToken cancellationToken = default)
    {
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        var container = await FindAsync(vpodId, handle, cancellationToken).ConfigureAwait(false);
        if (container is null)
        {
            return null;
        }

        if (container.State.Running || container.State.Restarting || container.State.Paused)
        {
            if (force)
            {
                LogKilling(vpodId, Short(container.ID));
                await IgnoreNotRunningAsync(CallAsync((c, ct) => c.Containers.KillContainerAsync(container.ID, new ContainerKillParameters { Signal = "KILL" }, ct), _options.RequestTimeout, cancellationToken)).ConfigureAwait(false);
                await CallAsync((c, ct) => c.Containers.WaitContainerAsync(container.ID, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var seconds = (uint)Math.Ceiling(timeout.TotalSeconds);
                LogStopping(vpodId, Short(container.ID), timeout);
                await CallAsync((c, ct) => c.Containers.StopContainerAsync(container.ID, new ContainerStopParameters { WaitBeforeKillSeconds = seconds }, ct), timeout + _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            }

            container = await InspectByIdAsync(container.ID, cancellationToken).ConfigureAwait(false);
        }

        return container is { State.Status: "exited" or "dead" } ? (int)container.State.ExitCode : null;
    }

    /// <summary>
    /// Removes every container made for the vPod and the volumes labelled with its id: its persistent-storage volume and its key
    /// volume (not the named volumes of its spec).
    /// </summary>
    public async Task RemoveAsync(string vpodId, RuntimeHandle? handle, CancellationToken cancellationToken = default)
    {
        CheckVPodId(vpodId);
        var gate = Gate(vpodId);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var ids = (await ListContainersAsync(vpodId, cancellationToken).ConfigureAwait(false)).Select(c => c.ID).ToHashSet(StringComparer.Ordinal);
            if (handle is { Id.Length: > 0 } && await InspectByIdAsync(handle.Id, cancellationToken).ConfigureAwait(false) is { } recorded && IsOurs(recorded, vpodId))
            {
                ids.Add(recorded.ID);
            }

            foreach (var id in ids)
            {
                try
                {
                    await CallAsync((c, ct) => c.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, ct), _options.RemoveStopTimeout + _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
                    LogRemoved(vpodId, Short(id));
                }
                catch (DockerContainerNotFoundException)
                {
                    // Already gone.
                }
            }

            var volumes = await CallAsync((c, ct) => c.Volumes.ListAsync(new VolumesListParameters { Filters = DockerContainerSpec.VPodFilter(_options, vpodId) }, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            foreach (var volume in volumes.Volumes ?? [])
            {
                await CallAsync((c, ct) => c.Volumes.RemoveAsync(volume.Name, force: true, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
                LogVolumeRemoved(vpodId, volume.Name);
            }
        }
        finally
        {
            gate.Release();
            _gates.TryRemove(vpodId, out _);
        }
    }

    /// <summary>
    /// Uploads the files into the container's data directory (<see cref="DockerContainerSpec.DataDirectoryOf"/>) as one tar archive
    /// through the engine's archive API, in order; the container may be running or stopped, but must exist.
    /// </summary>
    public async Task WriteDataFilesAsync(string vpodId, VPodSpec spec, RuntimeHandle? handle, VPodDataFiles files, CancellationToken cancellationToken = default)
    {
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(files);
        VPodDataValidation.ThrowIfInvalid(vpodId, files);
        var directory = DockerContainerSpec.DataDirectoryOf(spec);
        DockerDataArchive.ThrowIfBadDirectory(directory);
        var gate = Gate(vpodId);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var container = await FindAsync(vpodId, handle, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"vPod '{vpodId}' has no container on the Docker Engine at {Endpoint} to write its data files into: start the vPod first.");

            // The files belong to the user the workload runs as, so it can read and replace them.
            var archive = DockerDataArchive.Build(directory, files, _timeProvider.GetUtcNow(), DockerDataArchive.OwnerOf(container.Config?.User));
            try
            {
                await CallAsync(
                    async (c, ct) =>
                    {
                        using var stream = new MemoryStream(archive, writable: false);
                        await c.Containers.ExtractArchiveToContainerAsync(container.ID, new ContainerPathStatParameters { Path = DockerDataArchive.ExtractPath, AllowOverwriteDirWithFile = false }, stream, ct).ConfigureAwait(false);
                    },
                    _options.RequestTimeout,
                    cancellationToken).ConfigureAwait(false);
            }
            catch (DockerContainerNotFoundException)
            {
                throw new InvalidOperationException($"vPod '{vpodId}': container {Short(container.ID)} disappeared from the Docker Engine at {Endpoint} before its data files were written.");
            }
            catch (DockerApiException exception)
            {
                throw new InvalidOperationException($"vPod '{vpodId}': the Docker Engine at {Endpoint} refused the data files for {directory} in container {Short(container.ID)}: {EngineMessage(exception)}", exception);
            }

            LogDataWritten(vpodId, files.Files.Count, files.TotalBytes, directory, Short(container.ID));
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>One engine stats sample (the engine measures cpu over about a second): cpu %, memory use (less the page cache) and limit, network bytes.</summary>
    public async Task<WorkloadUsage?> GetUsageAsync(string vpodId, RuntimeHandle handle, VPodSpec spec, CancellationToken cancellationToken = default)
    {
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentNullException.ThrowIfNull(spec);
        var container = await FindAsync(vpodId, handle, cancellationToken).ConfigureAwait(false);
        if (container is not { State.Running: true })
        {
            return null;
        }

        var sample = new LastValue<ContainerStatsResponse>();
        await CallAsync((c, ct) => c.Containers.GetContainerStatsAsync(container.ID, new ContainerStatsParameters { Stream = false }, sample, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
        return sample.Value is { } stats ? DockerUsage.From(stats, spec.MemoryBytes) : null;
    }

    public async Task<IReadOnlyList<LogLine>> ReadLogsAsync(string vpodId, RuntimeHandle? handle, LogQuery query, CancellationToken cancellationToken = default)
    {
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(query);
        var container = await FindAsync(vpodId, handle, cancellationToken).ConfigureAwait(false);
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
    public async IAsyncEnumerable<LogLine> FollowLogsAsync(string vpodId, RuntimeHandle? handle, LogQuery query, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(query);
        DateTimeOffset? last = null;
        var next = query;
        while (!cancellationToken.IsCancellationRequested)
        {
            var container = await FindAsync(vpodId, handle, cancellationToken).ConfigureAwait(false);
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
                container = await FindAsync(vpodId, handle, cancellationToken).ConfigureAwait(false);
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

    public void Dispose()
    {
        if (_client.IsValueCreated)
        {
            _client.Value.Dispose();
        }

        _configuration?.Dispose();
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
            stream = await CallAsync((c, ct) => c.Containers.GetContainerLogsAsync(containerId, tty: false, parameters, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
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

    private async Task<ContainerInspectResponse> FindOrCreateAsync(string vpodId, VPodSpec spec, CancellationToken cancellationToken)
    {
        if (await FindAsync(vpodId, null, cancellationToken).ConfigureAwait(false) is { } existing)
        {
            return existing;
        }

        await EnsureImageAsync(vpodId, spec, cancellationToken).ConfigureAwait(false);
        int? port = null;
        if (DockerContainerSpec.SpeaksWorkloadProtocol(spec))
        {
            port = spec.Ports.Count > 0 ? spec.Ports[0]
                : _options.NetworkMode == DockerNetworkMode.Host ? LoopbackPorts.Free()
                : _options.DefaultWorkloadPort;
        }

        var parameters = DockerContainerSpec.Build(vpodId, spec, _options, port);

        // Mount what was checked: each host path's real path, not a link along it that could have been changed since.
        foreach (var mount in parameters.HostConfig.Mounts.Where(m => m.Type == "bind"))
        {
            mount.Source = DockerBindPolicy.RealPath(mount.Source);
        }

        try
        {
            var created = await CallAsync((c, ct) => c.Containers.CreateContainerAsync(parameters, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            LogCreated(vpodId, Short(created.ID), spec.Image!, spec.CpuMillis, spec.MemoryBytes);
            return new ContainerInspectResponse
            {
                ID = created.ID,
                Name = parameters.Name,
                State = new ContainerState { Status = "created" },
                Config = new Config { Labels = parameters.Labels, Image = parameters.Image },
                HostConfig = parameters.HostConfig,
            };
        }
        catch (DockerApiException exception) when (exception.StatusCode == HttpStatusCode.Conflict)
        {
            // Another activation created it meanwhile: use that one.
            return await InspectByIdAsync(parameters.Name, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"vPod '{vpodId}': the container name '{parameters.Name}' is taken on the Docker Engine at {Endpoint}: {EngineMessage(exception)}", exception);
        }
        catch (DockerApiException exception) when (exception.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound)
        {
            throw new InvalidVPodSpecException($"vPod '{vpodId}': the Docker Engine at {Endpoint} refused the container: {EngineMessage(exception)}");
        }
    }

    /// <summary>Makes sure the engine has the image: pulls it (with the matching registry's credentials) when the pull policy says so.</summary>
    private async Task EnsureImageAsync(string vpodId, VPodSpec spec, CancellationToken cancellationToken)
    {
        var image = spec.Image!;
        var present = await ImageExistsAsync(image, cancellationToken).ConfigureAwait(false);
        if (present && _options.PullPolicy != DockerPullPolicy.Always)
        {
            return;
        }

        if (!present && _options.PullPolicy == DockerPullPolicy.Never)
        {
            throw new InvalidOperationException(
                $"image '{image}' is not present on the Docker Engine at {Endpoint} and pulling is off ({DockerRuntimeOptions.SectionName}:PullPolicy=Never): build or load it there first (scripts/build-images.sh builds the MetaNode images).");
        }

        var registry = DockerContainerSpec.SelectRegistry(image, spec.ImagePullSecrets, _options.Registries);
        var auth = registry is { Registry: var r }
            ? new AuthConfig { ServerAddress = r.Server, Username = r.Username, Password = r.Password, IdentityToken = r.IdentityToken }
            : null;
        var (name, tag) = DockerContainerSpec.SplitForPull(image);
        var progress = new LastValue<JSONMessage>();
        LogPulling(vpodId, image, registry?.Name ?? "anonymous");
        string? failure = null;
        try
        {
            await CallAsync(
                async (c, ct) =>
                {
                    await c.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = name, Tag = tag }, auth, progress, ct).ConfigureAwait(false);
                    return true;
                },
                _options.PullTimeout,
                cancellationToken).ConfigureAwait(false);
            failure = progress.Error;
        }
        catch (DockerApiException exception)
        {
            failure = EngineMessage(exception);
        }
        catch (TimeoutException)
        {
            failure = $"the pull did not finish within {_options.PullTimeout}";
        }

        if (await ImageExistsAsync(image, cancellationToken).ConfigureAwait(false))
        {
            if (failure is not null)
            {
                LogPullFailedUsingLocal(vpodId, image, failure);
            }

            return;
        }

        var source = DockerContainerSpec.RegistryOf(image);
        throw new InvalidOperationException(
            $"image '{image}' is not present on the Docker Engine at {Endpoint} and could not be pulled from {source}{(registry is null ? string.Empty : $" (credentials '{registry.Value.Name}')")}: {failure ?? "the engine reported no error but has no such image"}. Build it there (scripts/build-images.sh builds the MetaNode images) or make the registry reachable.");
    }

    private async Task<bool> ImageExistsAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync((c, ct) => c.Images.InspectImageAsync(image, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (DockerImageNotFoundException)
        {
            return false;
        }
        catch (DockerApiException exception) when (exception.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>The vPod's container: the recorded one when it still exists and is the vPod's, else the one labelled with the vPod's id.</summary>
    private async Task<ContainerInspectResponse?> FindAsync(string vpodId, RuntimeHandle? handle, CancellationToken cancellationToken)
    {
        if (handle is { Id.Length: > 0 } && await InspectByIdAsync(handle.Id, cancellationToken).ConfigureAwait(false) is { } recorded && IsOurs(recorded, vpodId))
        {
            return recorded;
        }

        var containers = await ListContainersAsync(vpodId, cancellationToken).ConfigureAwait(false);
        if (containers.Count > 1)
        {
            LogDuplicates(vpodId, containers.Count, string.Join(", ", containers.Select(c => Short(c.ID))));
        }

        var first = containers.OrderBy(c => c.Created).FirstOrDefault();
        return first is null ? null : await InspectByIdAsync(first.ID, cancellationToken).ConfigureAwait(false);
    }

    private async Task<IList<ContainerListResponse>> ListContainersAsync(string vpodId, CancellationToken cancellationToken) =>
        await CallAsync((c, ct) => c.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = DockerContainerSpec.VPodFilter(_options, vpodId) }, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false)
        ?? [];

    private async Task<ContainerInspectResponse?> InspectByIdAsync(string idOrName, CancellationToken cancellationToken)
    {
        try
        {
            return await CallAsync((c, ct) => c.Containers.InspectContainerAsync(idOrName, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (DockerContainerNotFoundException)
        {
            return null;
        }
    }

    private bool IsOurs(ContainerInspectResponse container, string vpodId) =>
        container.Config?.Labels is { } labels
        && labels.TryGetValue(DockerContainerSpec.Label(_options, DockerContainerSpec.VPodLabel), out var owner)
        && string.Equals(owner, vpodId, StringComparison.Ordinal);

    private RuntimeHandle HandleOf(ContainerInspectResponse container)
    {
        var startedAt = Rfc3339.TryParse(container.State?.StartedAt ?? string.Empty, out var at) && at.Year > 1 ? at : default;
        return new RuntimeHandle(DeploymentMethod.Docker, container.ID, Endpoint, startedAt, Endpoint: EndpointOf(container));
    }

    /// <summary>Where the silo reaches the workload: the recorded port on the host address (host network), else the published port.</summary>
    private string? EndpointOf(ContainerInspectResponse container)
    {
        if (container.Config?.Labels is not { } labels
            || !labels.TryGetValue(DockerContainerSpec.Label(_options, DockerContainerSpec.PortLabel), out var portText)
            || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            return null;
        }

        if (IsHostNetwork(container))
        {
            return Url(_options.HostAddress, port);
        }

        if (container.NetworkSettings?.Ports is { } ports
            && ports.TryGetValue(DockerContainerSpec.PortKey(port), out var bindings)
            && bindings?.FirstOrDefault(b => !string.IsNullOrEmpty(b.HostPort)) is { } binding
            && int.TryParse(binding.HostPort, NumberStyles.None, CultureInfo.InvariantCulture, out var hostPort))
        {
            var address = IPAddress.TryParse(binding.HostIP, out var ip) && !ip.Equals(IPAddress.Any) && !ip.Equals(IPAddress.IPv6Any)
                ? binding.HostIP
                : _options.HostAddress;
            return Url(address, hostPort);
        }

        return null;
    }

    private static bool IsHostNetwork(ContainerInspectResponse container) =>
        string.Equals(container.HostConfig?.NetworkMode, "host", StringComparison.Ordinal);

    /// <summary>Runs one engine call with a timeout; an unreachable engine or a call that times out becomes an error naming the endpoint.</summary>
    private async Task<T> CallAsync<T>(Func<DockerClient, CancellationToken, Task<T>> call, TimeSpan timeout, CancellationToken cancellationToken)
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
            LogEngineUnreachable(exception, Endpoint);
            throw new InvalidOperationException(
                $"The Docker Engine at {Endpoint} is not reachable ({exception.GetBaseException().Message}): start dockerd there, or point {DockerRuntimeOptions.SectionName}:Endpoint (or DOCKER_HOST) at a running engine.",
                exception);
        }
    }

    private Task CallAsync(Func<DockerClient, CancellationToken, Task> call, TimeSpan timeout, CancellationToken cancellationToken) =>
        CallAsync(
            async (c, ct) =>
            {
                await call(c, ct).ConfigureAwait(false);
                return true;
            },
            timeout,
            cancellationToken);

    private static async Task IgnoreNotRunningAsync(Task task)
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

    /// <summary>
    /// Refuses, before anything is recorded or created, what the docker runtime cannot honour: no image, a network policy,
    /// more than one replica, a volume over the key directory, a host path outside <see cref="DockerRuntimeOptions.AllowedBindRoots"/>.
    /// </summary>
    public void ValidateSpec(string vpodId, VPodSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (string.IsNullOrWhiteSpace(spec.Image))
        {
            throw new InvalidVPodSpecException($"vPod '{vpodId}': a docker vPod needs an image (--image).");
        }

        if (spec.NetworkPolicy is { Enabled: true })
        {
            throw new InvalidVPodSpecException($"vPod '{vpodId}': a network policy cannot be enforced by the docker runtime; use the kubernetes deployment method or drop the network policy.");
        }

        if (spec.Replicas > 1)
        {
            throw new InvalidVPodSpecException($"vPod '{vpodId}': the docker runtime runs one container per vPod; {spec.Replicas.ToString(CultureInfo.InvariantCulture)} replicas need the kubernetes deployment method (or a vPod cluster of several vPods).");
        }

        if (spec.ImagePullSecrets.FirstOrDefault(secret => !_options.Registries.ContainsKey(secret)) is { } unknown)
        {
            throw new InvalidVPodSpecException(
                $"vPod '{vpodId}': image pull secret '{unknown}' is not configured on this silo: add it under {DockerRuntimeOptions.SectionName}:Registries:{unknown} (Server, Username, Password).");
        }

        WorkloadKeyDirectory.ThrowIfMountedOver(vpodId, spec);
        try
        {
            DockerBindPolicy.ThrowIfRefused(vpodId, spec, _options, DeniedBindPaths());
        }
        catch (InvalidVPodSpecException exception)
        {
            // A host path outside the allowed roots is worth an operator's attention: it may be an attempt to reach the host.
            LogSpecRefused(vpodId, exception.Message);
            throw;
        }
    }

    /// <summary>Host paths never bind-mounted: the engine's usual sockets and the one this runtime talks to.</summary>
    private IEnumerable<string> DeniedBindPaths() =>
        Endpoint.StartsWith("unix://", StringComparison.Ordinal) && Endpoint.Length > "unix://".Length
            ? DockerBindPolicy.EngineSockets.Append(Endpoint["unix://".Length..])
            : DockerBindPolicy.EngineSockets;

    private static void CheckVPodId(string vpodId)
    {
        ArgumentException.ThrowIfNullOrEmpty(vpodId);
        if (vpodId.Length > 128 || !char.IsAsciiLetterOrDigit(vpodId[0]) || !vpodId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new ArgumentException($"vPod id '{vpodId}' must be 1 to 128 letters, digits, '-', '_' or '.', starting with a letter or digit.", nameof(vpodId));
        }
    }

    private static string EngineMessage(DockerApiException exception)
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

    private static string Url(string host, int port) =>
        host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[')
            ? $"http://[{host}]:{port.ToString(CultureInfo.InvariantCulture)}"
            : $"http://{host}:{port.ToString(CultureInfo.InvariantCulture)}";

    private static string Short(string id) => id.Length > 12 ? id[..12] : id;

    private SemaphoreSlim Gate(string vpodId) => _gates.GetOrAdd(vpodId, static _ => new SemaphoreSlim(1, 1));

    /// <summary>Keeps what the engine reported, synchronously (<see cref="Progress{T}"/> would post it to the thread pool after the call returned).</summary>
    private sealed class LastValue<T> : IProgress<T>
    {
        public T? Value { get; private set; }

        public string? Error { get; private set; }

        public void Report(T value)
        {
            Value = value;
            if (value is JSONMessage { ErrorMessage: { Length: > 0 } error })
            {
                Error = error;
            }
            else if (value is JSONMessage { Error.Message: { Length: > 0 } detail })
            {
                Error = detail;
            }
        }
    }
}
