using MetaNode.Grains.Hosting;
using MetaNode.Grains.VPods;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Runtime;

/// <summary>Asks a workload whether it is healthy (<c>GET /healthz</c> of the workload protocol).</summary>
public interface IWorkloadProbe
{
    /// <summary>True when the workload answered 2xx within the probe timeout.</summary>
    Task<bool> IsHealthyAsync(string endpoint, CancellationToken cancellationToken = default);
}

public sealed partial class HttpWorkloadProbe(IHttpClientFactory httpClientFactory, IOptions<VPodOptions> options, ILogger<HttpWorkloadProbe> logger) : IWorkloadProbe
{
    public async Task<bool> IsHealthyAsync(string endpoint, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.ProbeTimeout);
        try
        {
            var client = httpClientFactory.CreateClient(MetaNodeNames.WorkloadHttpClient);
            using var response = await client.GetAsync(new Uri(new Uri(endpoint), "/healthz"), HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                LogProbeStatus(logger, endpoint, (int)response.StatusCode);
            }

            return response.IsSuccessStatusCode;
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogProbeFailed(logger, endpoint, exception.Message);
            return false;
        }
    }
}
