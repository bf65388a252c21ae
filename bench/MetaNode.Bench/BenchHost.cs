using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using MetaNode.Silo.Hosting;
using MetaNode.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Orleans.TestingHost;

namespace MetaNode.Bench;

/// <summary>What the benchmarks share: one in-process silo with the project's services, and a local anvil.</summary>
internal static class BenchHost
{
    /// <summary>One silo (and its client) with MetaNode's persistence and services under <paramref name="dataDirectory"/>, logging warnings only.</summary>
    public static async Task<InProcessTestCluster> StartSiloAsync(string dataDirectory, IReadOnlyDictionary<string, string?> settings)
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSiloHost((_, host) =>
        {
            host.Logging.SetMinimumLevel(LogLevel.Warning);
            host.Configuration.AddInMemoryCollection(settings);
        });
        builder.ConfigureClientHost(host => host.Logging.SetMinimumLevel(LogLevel.Warning));
        builder.ConfigureSilo((_, silo) =>
        {
            var options = new MetaNodeSiloOptions { DataDirectory = dataDirectory };
            silo.AddMetaNodePersistence(options).AddMetaNodeServices(options);
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    /// <summary>Deletes a benchmark's data directory; a file still held by an exiting workload leaves it for the OS to clean.</summary>
    public static void DeleteDirectory(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // A workload still flushing its log.
        }
    }
}

/// <summary>anvil from the repository's pinned npm package (or a given path) on a free loopback port; killed on dispose.</summary>
internal sealed class BenchAnvil : IDisposable
{
    /// <summary>anvil's chain id when none is given.</summary>
    public const long ChainId = 31337;

    private readonly Process _process;

    private BenchAnvil(Process process, string rpcUrl)
    {
        _process = process;
        RpcUrl = rpcUrl;
    }

    public string RpcUrl { get; }

    public static async Task<BenchAnvil> StartAsync(string? path = null)
    {
        var port = SiloProcess.FreePort();
        var process = Process.Start(new ProcessStartInfo(path ?? FindAnvil(), ["--host", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture), "--silent"]) { UseShellExecute = false })
            ?? throw new InvalidOperationException("anvil could not be started.");
        var anvil = new BenchAnvil(process, $"http://127.0.0.1:{port}");
        try
        {
            await anvil.WaitReadyAsync();
            return anvil;
        }
        catch
        {
            anvil.Dispose();
            throw;
        }
    }

    /// <summary>Gives <paramref name="address"/> 1000 ETH.</summary>
    public async Task FundAsync(string address)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsJsonAsync(RpcUrl, new { jsonrpc = "2.0", id = 1, method = "anvil_setBalance", @params = new object[] { address, "0x3635C9ADC5DEA00000" } });
        response.EnsureSuccessStatusCode();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.Dispose();
    }

    private async Task WaitReadyAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var response = await http.PostAsJsonAsync(RpcUrl, new { jsonrpc = "2.0", id = 1, method = "eth_chainId", @params = Array.Empty<object>() });
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (watch.Elapsed < TimeSpan.FromSeconds(10))
            {
                // Still starting; asked again below.
            }

            if (watch.Elapsed >= TimeSpan.FromSeconds(10))
            {
                throw new TimeoutException($"anvil did not answer on {RpcUrl} within 10 s.");
            }

            await Task.Delay(50);
        }
    }

    private static string FindAnvil()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "contracts", "node_modules", "@foundry-rs", "anvil-linux-amd64", "bin", "anvil");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("anvil was not found: run 'npm ci' in contracts/ or pass its path.");
    }
}
