using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MetaNode.Grains.Runtime;

namespace MetaNode.Tests.Infrastructure;

/// <summary>
/// A real anvil started from <c>contracts/node_modules</c> (run <c>npm ci</c> in <c>contracts/</c>) on a free loopback
/// port, optionally with a state file so it can be killed and restarted with the same chain.
/// </summary>
public sealed class AnvilNode : IAsyncDisposable
{
    /// <summary>Set to use an already running node instead of starting one (tests that kill anvil still start their own).</summary>
    public const string RpcEnvironmentVariable = "METANODE_TEST_ANVIL_RPC";

    private readonly StringBuilder _output = new();
    private readonly string? _stateFile;
    private readonly int _stateInterval;
    private readonly string[] _extraArguments;
    private Process? _process;

    public AnvilNode(string? stateFile = null, int stateIntervalSeconds = 1, params string[] extraArguments)
    {
        _stateFile = stateFile;
        _stateInterval = stateIntervalSeconds;
        _extraArguments = extraArguments;
        Port = LoopbackPorts.Free();
    }

    public int Port { get; }

    /// <summary>The chain id anvil is started with (31337, the dev chain's, unless a test needs another chain).</summary>
    public long ChainId { get; init; } = 31337;

    public string RpcUrl => $"http://127.0.0.1:{Port}";

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The anvil binary of the pinned npm package in the repository's contracts folder.</summary>
    public static string BinaryPath
    {
        get
        {
            var root = RepositoryRoot;
            var path = Path.Combine(root, "contracts", "node_modules", "@foundry-rs", "anvil-linux-amd64", "bin", "anvil");
            return File.Exists(path) ? path : throw new InvalidOperationException($"anvil not found at {path}: run 'npm ci' in {Path.Combine(root, "contracts")}.");
        }
    }

    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "contracts", "package.json")) && File.Exists(Path.Combine(dir.FullName, "MetaNode.Grains.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException($"the repository root (with contracts/package.json) was not found above {AppContext.BaseDirectory}.");
        }
    }

    /// <summary>Starts anvil (again, after <see cref="KillAsync"/>, on the same port and state file).</summary>
    public async Task StartAsync()
    {
        _process?.Dispose();
        var info = new ProcessStartInfo(BinaryPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "--host", "127.0.0.1", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--chain-id", ChainId.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(argument);
        }

        if (_stateFile is not null)
        {
            info.ArgumentList.Add("--state");
            info.ArgumentList.Add(_stateFile);
            info.ArgumentList.Add("--state-interval");
            info.ArgumentList.Add(_stateInterval.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        foreach (var argument in _extraArguments)
        {
            info.ArgumentList.Add(argument);
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException("could not start anvil");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await WaitReadyAsync(RpcUrl, TimeSpan.FromSeconds(30), () => _process.HasExited ? $"anvil exited with {_process.ExitCode}: {Output}" : null);
    }

    /// <summary>kill -9: anvil writes no final state; what the last state dump had survives.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
    }

    public static async Task WaitReadyAsync(string rpcUrl, TimeSpan timeout, Func<string?>? exited = null)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            if (exited?.Invoke() is { } why)
            {
                throw new InvalidOperationException(why);
            }

            try
            {
                using var response = await http.PostAsJsonAsync(rpcUrl, new { jsonrpc = "2.0", id = 1, method = "eth_chainId", @params = Array.Empty<object>() });
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
            {
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"anvil did not answer on {rpcUrl} within {timeout.TotalSeconds}s");
    }

    /// <summary>A raw JSON-RPC call over HttpClient, independent of Nethereum.</summary>
    public static async Task<JsonElement> RpcAsync(string rpcUrl, string method, params object[] parameters)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.PostAsJsonAsync(rpcUrl, new { jsonrpc = "2.0", id = 1, method, @params = parameters });
        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        if (document.RootElement.TryGetProperty("error", out var error))
        {
            throw new InvalidOperationException($"{method} failed: {error}");
        }

        return document.RootElement.GetProperty("result").Clone();
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }
}

/// <summary>One anvil shared by a test class (or the node named by <see cref="AnvilNode.RpcEnvironmentVariable"/>); each test funds its own fresh accounts.</summary>
public sealed class AnvilFixture : IAsyncLifetime
{
    private AnvilNode? _node;

    public string RpcUrl { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable(AnvilNode.RpcEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(external))
        {
            RpcUrl = external;
            await AnvilNode.WaitReadyAsync(RpcUrl, TimeSpan.FromSeconds(10));
            return;
        }

        _node = new AnvilNode();
        await _node.StartAsync();
        RpcUrl = _node.RpcUrl;
    }

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
    }

    /// <summary>A fresh key with 1000 ETH (anvil_setBalance), so tests never share a nonce.</summary>
    public async Task<Nethereum.Signer.EthECKey> FundedKeyAsync()
    {
        var key = Nethereum.Signer.EthECKey.GenerateKey();
        await AnvilNode.RpcAsync(RpcUrl, "anvil_setBalance", key.GetPublicAddress(), "0x3635C9ADC5DEA00000");
        return key;
    }
}
