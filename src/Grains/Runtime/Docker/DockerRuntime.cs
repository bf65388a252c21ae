using System.Collections.Concurrent;
using System.Globalization;
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

    // Containers this runtime has just created and not yet started, by vPod id: their start needs no second look at the engine.
    private readonly ConcurrentDictionary<string, ContainerInspectResponse> _created = new(StringComparer.Ordinal);
    private readonly DockerEngineConnection _engine;
    private readonly DockerContainerLookup _containers;
    private readonly DockerContainerCreator _creator;
    private readonly DockerLogReader _logs;

    public DockerRuntime(IOptions<DockerRuntimeOptions> options, ILogger<DockerRuntime> logger, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options.Value;
        _logger = logger;
        _timeProvider = timeProvider ?? TimeProvider.System;
        Endpoint = _options.ResolveEndpoint();
        _engine = new DockerEngineConnection(Endpoint, _logger);
        _containers = new DockerContainerLookup(_options, _engine, _logger);
        _creator = new DockerContainerCreator(_options, _engine, _containers, new DockerImages(_options, _engine, _logger), _logger);
        _logs = new DockerLogReader(_options, _engine, _containers, _timeProvider);
    }

    public DeploymentMethod Method => DeploymentMethod.Docker;

    /// <summary>Containers keep running when the silo stops; the next silo adopts them.</summary>
    public bool WorkloadsOutliveSilo => true;

    /// <summary>The Engine API endpoint in use; recorded as <see cref="RuntimeHandle.Node"/>.</summary>
    public string Endpoint { get; }

    /// <summary>The Docker.DotNet client of this runtime (for tools and tests that look at the engine directly).</summary>
    public IDockerClient Client => _engine.Client;

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
            var container = await _creator.FindOrCreateAsync(vpodId, spec, cancellationToken).ConfigureAwait(false);
            if (container.State.Status == "created")
            {
                _created[vpodId] = container;
            }
            else
            {
                _created.TryRemove(vpodId, out _);
            }

            return DockerEndpoints.HandleOf(container, Endpoint, _options);
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
            // The container provisioned for this handle a moment ago is started as it was created; any other is looked up first.
            var container = _created.TryRemove(vpodId, out var created) && handle is not null && handle.Id == created.ID ? created : null;
            container ??= await _containers.FindAsync(vpodId, handle, cancellationToken).ConfigureAwait(false)
                ?? await _creator.FindOrCreateAsync(vpodId, spec, cancellationToken).ConfigureAwait(false);
            if (container.State.Running)
            {
                return DockerEndpoints.HandleOf(container, Endpoint, _options);
            }

            try
            {
                await _engine.CallAsync((c, ct) => c.Containers.StartContainerAsync(container.ID, new ContainerStartParameters(), ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (DockerApiException exception) when (exception.StatusCode == System.Net.HttpStatusCode.NotFound && ReferenceEquals(container, created))
            {
                // Removed since it was created: make it again.
                container = await _creator.FindOrCreateAsync(vpodId, spec, cancellationToken).ConfigureAwait(false);
                await _engine.CallAsync((c, ct) => c.Containers.StartContainerAsync(container.ID, new ContainerStartParameters(), ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            }

            LogStarted(_logger, vpodId, DockerContainerLookup.Short(container.ID), spec.Image ?? string.Empty);
            if (DockerEndpoints.IsHostNetwork(container))
            {
                // The endpoint is known from the labels: no need to ask the engine again.
                return DockerEndpoints.HandleOf(container, Endpoint, _options) with { StartedAt = _timeProvider.GetUtcNow() };
            }

            // Published ports are assigned at start: read them back.
            container = await _containers.InspectAsync(container.ID, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"vPod '{vpodId}': container {DockerContainerLookup.Short(container.ID)} disappeared while starting on the Docker Engine at {Endpoint}.");
            return DockerEndpoints.HandleOf(container, Endpoint, _options);
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
        var container = await _containers.FindAsync(vpodId, handle, cancellationToken).ConfigureAwait(false);
        if (container is null)
        {
            return WorkloadObservation.NotFound($"container {DockerContainerLookup.Short(handle.Id)} no longer exists on the Docker Engine at {Endpoint}");
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
            if (await _containers.InspectAsync(container.ID, cancellationToken).ConfigureAwait(false) is not { } again)
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
            "removing" => WorkloadObservation.NotFound($"container {DockerContainerLookup.Short(container.ID)} is being removed"),
            _ => new WorkloadObservation(WorkloadState.Unknown, Detail: $"container {DockerContainerLookup.Short(container.ID)} is {state.Status}"),
        };
    }

    /// <summary>SIGTERM, then SIGKILL after <paramref name="timeout"/> (engine stop); <paramref name="force"/> kills at once. Returns the exit code.</summary>
    public async Task<int?> StopAsync(string vpodId, RuntimeHandle handle, TimeSpan timeout, bool force, CancellationToken cancellationToken = default)
    {
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        var container = await _containers.FindAsync(vpodId, handle, cancellationToken).ConfigureAwait(false);
        if (container is null)
        {
            return null;
        }

        if (container.State.Running || container.State.Restarting || container.State.Paused)
        {
            if (force)
            {
                LogKilling(_logger, vpodId, DockerContainerLookup.Short(container.ID));
                await DockerEngineConnection.IgnoreNotRunningAsync(_engine.CallAsync((c, ct) => c.Containers.KillContainerAsync(container.ID, new ContainerKillParameters { Signal = "KILL" }, ct), _options.RequestTimeout, cancellationToken)).ConfigureAwait(false);
                await _engine.CallAsync((c, ct) => c.Containers.WaitContainerAsync(container.ID, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var seconds = (uint)Math.Ceiling(timeout.TotalSeconds);
                LogStopping(_logger, vpodId, DockerContainerLookup.Short(container.ID), timeout);
                await _engine.CallAsync((c, ct) => c.Containers.StopContainerAsync(container.ID, new ContainerStopParameters { WaitBeforeKillSeconds = seconds }, ct), timeout + _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            }

            container = await _containers.InspectAsync(container.ID, cancellationToken).ConfigureAwait(false);
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
            _created.TryRemove(vpodId, out _);
            var ids = (await _containers.ListAsync(vpodId, cancellationToken).ConfigureAwait(false)).Select(c => c.ID).ToHashSet(StringComparer.Ordinal);
            if (handle is { Id.Length: > 0 } && await _containers.InspectAsync(handle.Id, cancellationToken).ConfigureAwait(false) is { } recorded && _containers.IsOurs(recorded, vpodId))
            {
                ids.Add(recorded.ID);
            }

            foreach (var id in ids)
            {
                try
                {
                    await _engine.CallAsync((c, ct) => c.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, ct), _options.RemoveStopTimeout + _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
                    LogRemoved(_logger, vpodId, DockerContainerLookup.Short(id));
                }
                catch (DockerContainerNotFoundException)
                {
                    // Already gone.
                }
            }

            var volumes = await _engine.CallAsync((c, ct) => c.Volumes.ListAsync(new VolumesListParameters { Filters = DockerContainerSpec.VPodFilter(_options, vpodId) }, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            foreach (var volume in volumes.Volumes ?? [])
            {
                await _engine.CallAsync((c, ct) => c.Volumes.RemoveAsync(volume.Name, force: true, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
                LogVolumeRemoved(_logger, vpodId, volume.Name);
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
            var container = await _containers.FindAsync(vpodId, handle, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"vPod '{vpodId}' has no container on the Docker Engine at {Endpoint} to write its data files into: start the vPod first.");

            // The files belong to the user the workload runs as, so it can read and replace them.
            var archive = DockerDataArchive.Build(directory, files, _timeProvider.GetUtcNow(), DockerDataArchive.OwnerOf(container.Config?.User));
            try
            {
                await _engine.CallAsync(
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
                throw new InvalidOperationException($"vPod '{vpodId}': container {DockerContainerLookup.Short(container.ID)} disappeared from the Docker Engine at {Endpoint} before its data files were written.");
            }
            catch (DockerApiException exception)
            {
                throw new InvalidOperationException($"vPod '{vpodId}': the Docker Engine at {Endpoint} refused the data files for {directory} in container {DockerContainerLookup.Short(container.ID)}: {DockerEngineConnection.EngineMessage(exception)}", exception);
            }

            LogDataWritten(_logger, vpodId, files.Files.Count, files.TotalBytes, directory, DockerContainerLookup.Short(container.ID));
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
        var container = await _containers.FindAsync(vpodId, handle, cancellationToken).ConfigureAwait(false);
        if (container is not { State.Running: true })
        {
            return null;
        }

        var sample = new LastReported<ContainerStatsResponse>();
        await _engine.CallAsync((c, ct) => c.Containers.GetContainerStatsAsync(container.ID, new ContainerStatsParameters { Stream = false }, sample, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
        return sample.Value is { } stats ? DockerUsage.From(stats, spec.MemoryBytes) : null;
    }

    public async Task<IReadOnlyList<LogLine>> ReadLogsAsync(string vpodId, RuntimeHandle? handle, LogQuery query, CancellationToken cancellationToken = default)
    {
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(query);
        return await _logs.ReadAsync(vpodId, handle, query, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The lines matching <paramref name="query"/>, then new ones as they come; across restarts of the container, until cancelled or it is removed.</summary>
    public async IAsyncEnumerable<LogLine> FollowLogsAsync(string vpodId, RuntimeHandle? handle, LogQuery query, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(query);
        await foreach (var line in _logs.FollowAsync(vpodId, handle, query, cancellationToken).ConfigureAwait(false))
        {
            yield return line;
        }
    }

    public void Dispose()
    {
        _engine.Dispose();
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
            LogSpecRefused(_logger, vpodId, exception.Message);
            throw;
        }
    }

    /// <summary>Host paths never bind-mounted: the engine's usual sockets and the one this runtime talks to.</summary>
    private IEnumerable<string> DeniedBindPaths() =>
        Endpoint.StartsWith("unix://", StringComparison.Ordinal) && Endpoint.Length > "unix://".Length
            ? DockerBindPolicy.EngineSockets.Append(Endpoint["unix://".Length..])
            : DockerBindPolicy.EngineSockets;

    private static void CheckVPodId(string vpodId) => VPodNames.ThrowIfInvalidVPodId(vpodId, nameof(vpodId));

    private SemaphoreSlim Gate(string vpodId) => _gates.GetOrAdd(vpodId, static _ => new SemaphoreSlim(1, 1));
}
