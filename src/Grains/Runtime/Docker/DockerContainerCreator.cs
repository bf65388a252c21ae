using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Docker;

/// <summary>
/// Finds or creates a vPod's container (not started): pulls its image when needed, picks its workload port, mounts the real
/// paths of the host paths that were checked, and takes the container another activation created meanwhile under the same name.
/// </summary>
internal sealed partial class DockerContainerCreator
{
    private readonly DockerRuntimeOptions _options;
    private readonly DockerEngineConnection _engine;
    private readonly DockerContainerLookup _containers;
    private readonly DockerImages _images;
    private readonly ILogger _logger;

    public DockerContainerCreator(DockerRuntimeOptions options, DockerEngineConnection engine, DockerContainerLookup containers, DockerImages images, ILogger logger)
    {
        _options = options;
        _engine = engine;
        _containers = containers;
        _images = images;
        _logger = logger;
    }

    /// <summary>
    /// The vPod's container when it has one, else a new one made from the spec. The container's name is the vPod's own, so the
    /// engine is asked to create it straight away: a name already taken means the vPod has its container, which is used. The
    /// image is looked at only when the engine lacks it (or the pull policy is <c>Always</c>).
    /// </summary>
    public async Task<ContainerInspectResponse> FindOrCreateAsync(string vpodId, VPodSpec spec, CancellationToken cancellationToken)
    {
        if (_options.PullPolicy == DockerPullPolicy.Always)
        {
            await _images.EnsureAsync(vpodId, spec, cancellationToken).ConfigureAwait(false);
        }

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
            CreateContainerResponse created;
            try
            {
                created = await _engine.CallAsync((c, ct) => c.Containers.CreateContainerAsync(parameters, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (DockerApiException exception) when (exception.StatusCode == HttpStatusCode.NotFound && _options.PullPolicy != DockerPullPolicy.Always)
            {
                // Most likely the image is missing: pull it (or fail with why it cannot be had) and create once more.
                await _images.EnsureAsync(vpodId, spec, cancellationToken).ConfigureAwait(false);
                created = await _engine.CallAsync((c, ct) => c.Containers.CreateContainerAsync(parameters, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            }

            LogCreated(_logger, vpodId, DockerContainerLookup.Short(created.ID), spec.Image!, spec.CpuMillis, spec.MemoryBytes);
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
            // The vPod has its container (an earlier provision, another activation meanwhile): use that one.
            return await _containers.InspectAsync(parameters.Name, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"vPod '{vpodId}': the container name '{parameters.Name}' is taken on the Docker Engine at {_engine.Endpoint}: {DockerEngineConnection.EngineMessage(exception)}", exception);
        }
        catch (DockerApiException exception) when (exception.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound)
        {
            throw new InvalidVPodSpecException($"vPod '{vpodId}': the Docker Engine at {_engine.Endpoint} refused the container: {DockerEngineConnection.EngineMessage(exception)}");
        }
    }
}
