using System.Net;
using MetaNode.Workload;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace MetaNode.Tests.Federation;

/// <summary>The reference workload's real web application, hosted in the test process on a free loopback port.</summary>
internal sealed class InProcessWorkload : IAsyncDisposable
{
    private readonly WebApplication _app;

    private InProcessWorkload(WebApplication app, Uri endpoint)
    {
        _app = app;
        Endpoint = endpoint;
    }

    public Uri Endpoint { get; }

    public static async Task<InProcessWorkload> StartAsync(string vpodId, string dataDirectory)
    {
        var settings = new WorkloadSettings("127.0.0.1", IPAddress.Loopback, 0, vpodId, dataDirectory);
        var app = WorkloadApp.Create(settings, minimumLevel: Microsoft.Extensions.Logging.LogLevel.Warning);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new InProcessWorkload(app, new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
