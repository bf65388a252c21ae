using System.Net;
using MetaNode.Workload;
using MetaNode.Workload.Keys;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace MetaNode.Tests.Federation;

/// <summary>
/// The reference workload's real web application, hosted in the test process on a free loopback port. Its key lives in
/// <see cref="KeyDirectory"/>: the caller's (to restart over the same key) or, when none is given, a fresh one removed on dispose.
/// </summary>
internal sealed class InProcessWorkload : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly bool _ownsKeyDirectory;

    private InProcessWorkload(WebApplication app, Uri endpoint, string keyDirectory, bool ownsKeyDirectory)
    {
        _app = app;
        Endpoint = endpoint;
        KeyDirectory = keyDirectory;
        _ownsKeyDirectory = ownsKeyDirectory;
        Address = app.Services.GetRequiredService<VPodKey>().Address;
    }

    public Uri Endpoint { get; }

    public string KeyDirectory { get; }

    /// <summary>The address of the vPod's own key (lower case).</summary>
    public string Address { get; }

    public static async Task<InProcessWorkload> StartAsync(string vpodId, string dataDirectory, string? keyDirectory = null)
    {
        var owns = keyDirectory is null;
        keyDirectory ??= Path.Combine(Path.GetTempPath(), $"metanode-key-{Guid.NewGuid():N}");
        var settings = new WorkloadSettings("127.0.0.1", IPAddress.Loopback, 0, vpodId, dataDirectory, keyDirectory);
        var app = WorkloadApp.Create(settings, minimumLevel: Microsoft.Extensions.Logging.LogLevel.Warning);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new InProcessWorkload(app, new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)), keyDirectory, owns);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_ownsKeyDirectory && Directory.Exists(KeyDirectory))
        {
            Directory.Delete(KeyDirectory, recursive: true);
        }
    }
}
