using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Docker;

/// <summary>Makes sure the engine has a vPod's image, pulling it (with the matching registry's credentials) as the pull policy says.</summary>
internal sealed partial class DockerImages
{
    private readonly DockerRuntimeOptions _options;
    private readonly DockerEngineConnection _engine;
    private readonly ILogger _logger;

    public DockerImages(DockerRuntimeOptions options, DockerEngineConnection engine, ILogger logger)
    {
        _options = options;
        _engine = engine;
        _logger = logger;
    }

    /// <summary>Pulls the spec's image when the pull policy says so; a failed pull is only an error when the engine has no copy.</summary>
    public async Task EnsureAsync(string vpodId, VPodSpec spec, CancellationToken cancellationToken)
    {
        var image = spec.Image!;
        var present = await ExistsAsync(image, cancellationToken).ConfigureAwait(false);
        if (present && _options.PullPolicy != DockerPullPolicy.Always)
        {
            return;
        }

        if (!present && _options.PullPolicy == DockerPullPolicy.Never)
        {
            throw new InvalidOperationException(
                $"image '{image}' is not present on the Docker Engine at {_engine.Endpoint} and pulling is off ({DockerRuntimeOptions.SectionName}:PullPolicy=Never): build or load it there first (scripts/build-images.sh builds the MetaNode images).");
        }

        var registry = DockerContainerSpec.SelectRegistry(image, spec.ImagePullSecrets, _options.Registries);
        var auth = registry is { Registry: var r }
            ? new AuthConfig { ServerAddress = r.Server, Username = r.Username, Password = r.Password, IdentityToken = r.IdentityToken }
            : null;
        var (name, tag) = DockerContainerSpec.SplitForPull(image);
        var progress = new LastReported<JSONMessage>();
        LogPulling(_logger, vpodId, image, registry?.Name ?? "anonymous");
        string? failure = null;
        try
        {
            await _engine.CallAsync(
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
            failure = DockerEngineConnection.EngineMessage(exception);
        }
        catch (TimeoutException)
        {
            failure = $"the pull did not finish within {_options.PullTimeout}";
        }

        if (await ExistsAsync(image, cancellationToken).ConfigureAwait(false))
        {
            if (failure is not null)
            {
                LogPullFailedUsingLocal(_logger, vpodId, image, failure);
            }

            return;
        }

        var source = DockerContainerSpec.RegistryOf(image);
        throw new InvalidOperationException(
            $"image '{image}' is not present on the Docker Engine at {_engine.Endpoint} and could not be pulled from {source}{(registry is null ? string.Empty : $" (credentials '{registry.Value.Name}')")}: {failure ?? "the engine reported no error but has no such image"}. Build it there (scripts/build-images.sh builds the MetaNode images) or make the registry reachable.");
    }

    private async Task<bool> ExistsAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            await _engine.CallAsync((c, ct) => c.Images.InspectImageAsync(image, ct), _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
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
}
