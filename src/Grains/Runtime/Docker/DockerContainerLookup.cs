using Docker.DotNet;
using Docker.DotNet.Models;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Docker;

/// <summary>Finds a vPod's container on the engine: the one a handle records, when it is still the vPod's, else the one labelled with the vPod's id.</summary>
internal sealed partial class DockerContainerLookup
{
    private readonly DockerRuntimeOptions _options;
    private readonly DockerEngineConnection _engine;
    private readonly ILogger _logger;

    public DockerContainerLookup(DockerRuntimeOptions options, DockerEngineConnection engine, ILogger logger)
    {
        _options = options;
        _engine = engine;
        _logger = logger;
    }

    /// <summary>A container id as it is shown: its first 12 characters.</summary>
    public static string Short(string id) => id.Length > 12 ? id[..12] : id;

    /// <summary>The vPod's container: the recorded one when it still exists and is the vPod's, else the one labelled with the vPod's id.</summary>
    public async Task<ContainerInspectResponse?> FindAsync(string vpodId, RuntimeHandle? handle, CancellationToken cancellationToken)
    {
        if (handle is { Id.Length: > 0 } && await InspectAsync(handle.Id, cancellationToken).ConfigureAwait(false) is { } recorded && IsOurs(recorded, vpodId))
        {
            return recorded;
        }

        var containers = await ListAsync(vpodId, cancellationToken).ConfigureAwait(false);
        if (containers.Count > 1)
        {
            LogDuplicates(_logger, vpodId, containers.Count, string.Join(", ", containers.Select(c => Short(c.ID))));
        }

        var first = containers.OrderBy(c => c.Created).FirstOrDefault();
        return first is null ? null : await InspectAsync(first.ID, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every container (running or not) labelled with the vPod's id.</summary>
    public async Task<IList<ContainerListResponse>> ListAsync(string vpodId, CancellationToken cancellationToken) =>
        await _engine.CallAsync((c, ct) => c.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = DockerContainerSpec.VPodFilter(_options, vpodId) }, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false)
        ?? [];

    /// <summary>The container with this id or name; null when the engine has none.</summary>
    public async Task<ContainerInspectResponse?> InspectAsync(string idOrName, CancellationToken cancellationToken)
    {
        try
        {
            return await _engine.CallAsync((c, ct) => c.Containers.InspectContainerAsync(idOrName, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (DockerContainerNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Whether the container carries the vPod's id label.</summary>
    public bool IsOurs(ContainerInspectResponse container, string vpodId) =>
        container.Config?.Labels is { } labels
        && labels.TryGetValue(DockerContainerSpec.Label(_options, DockerContainerSpec.VPodLabel), out var owner)
        && string.Equals(owner, vpodId, StringComparison.Ordinal);
}
