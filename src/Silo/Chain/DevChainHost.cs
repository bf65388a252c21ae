// Longer than 400 lines: anvil's install, start, readiness, contract deployment and stop are one hosted service's life cycle.
using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text.Json;
using MetaNode.Grains.Chain;
using Microsoft.Extensions.Options;
using Nethereum.Hex.HexTypes;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Signer;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;

namespace MetaNode.Silo.Chain;

/// <summary>
/// The embedded profile's development chain: starts anvil (the pinned npm package, installed into a tools folder on
/// first use) on a free loopback port with its state in the data directory, deploys the ResultRegistry once and
/// remembers where, and stops anvil when the silo stops. Without npm the silo runs with chain features off.
/// </summary>
public sealed partial class DevChainHost : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    public const string AnvilPackage = "@foundry-rs/anvil-linux-amd64";
    public const string AnvilVersion = "1.7.1";
    public const long ChainId = 31337;

    /// <summary>anvil's first dev account (public knowledge: a dev chain only); funded at genesis.</summary>
    private const string DevOperatorKey = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    private readonly ChainOptions _options;
    private readonly ChainConnector _connector;
    private readonly ChainAccounts _accounts;
    private readonly ILogger<DevChainHost> _logger;
    private readonly string _directory;
    private Process? _anvil;
    private StreamWriter? _log;

    public DevChainHost(IOptions<ChainOptions> options, ChainConnector connector, ChainAccounts accounts, ILogger<DevChainHost> logger)
    {
        _options = options.Value;
        _connector = connector;
        _accounts = accounts;
        _logger = logger;
        _directory = Path.Combine(_options.DataDirectory ?? ".metanode", "chain");
    }

    public string StateFile => Path.Combine(_directory, "anvil-state.json");

    public string InfoFile => Path.Combine(_directory, "devchain.json");

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(DevChainHost), ServiceLifecycleStage.RuntimeInitialize, StartAsync, StopAsync);

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            Directory.CreateDirectory(_directory);
            var anvil = await ResolveAnvilAsync(cancellationToken);
            if (anvil is null)
            {
                return;
            }

            var info = ReadInfo();
            StopLeftover(info);
            var port = MetaNode.Grains.Runtime.LoopbackPorts.Free();
            var rpcUrl = $"http://127.0.0.1:{port}";
            StartAnvil(anvil, port);
            await WaitReadyAsync(rpcUrl, cancellationToken);

            var operatorKey = new EthECKey(DevOperatorKey);
            var registry = await EnsureRegistryAsync(rpcUrl, operatorKey, info, cancellationToken);
            _accounts.UseDevOperator(operatorKey);
            _connector.Configure(new ChainEndpoint(rpcUrl, ChainId, registry, DevChain: true));
            LogStarted(_logger, rpcUrl, registry, StateFile);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The silo still runs; chain features are off and `chain status` says why.
            LogFailed(_logger, exception);
            _connector.Disable($"the dev chain could not start: {exception.Message} (see the silo log and {Path.Combine(_directory, "anvil.log")}).");
            await StopAsync(CancellationToken.None);
        }
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_anvil is not { } anvil)
        {
            return;
        }

        _anvil = null;
        try
        {
            if (!anvil.HasExited)
            {
                // SIGTERM: anvil writes its final state to the state file, then exits.
                _ = Kill(anvil.Id, 15);
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await anvil.WaitForExitAsync(wait.Token);
                }
                catch (OperationCanceledException)
                {
                    anvil.Kill();
                    await anvil.WaitForExitAsync(CancellationToken.None);
                }
            }

            LogStopped(_logger, anvil.Id);
        }
        finally
        {
            anvil.Dispose();
            lock (this)
            {
                _log?.Dispose();
                _log = null;
            }
        }
    }

    public void Dispose()
    {
        if (_anvil is { HasExited: false } anvil)
        {
            anvil.Kill();
        }

        _anvil?.Dispose();
        _log?.Dispose();
    }

    /// <summary>The anvil binary: configured, already installed in the tools folder, in the repository's contracts folder, or installed now with npm.</summary>
    private async Task<string?> ResolveAnvilAsync(CancellationToken cancellationToken)
    {
        if (!string.IsNullOrWhiteSpace(_options.DevChain.AnvilPath))
        {
            return File.Exists(_options.DevChain.AnvilPath)
                ? _options.DevChain.AnvilPath
                : throw new FileNotFoundException($"MetaNode:Chain:DevChain:AnvilPath '{_options.DevChain.AnvilPath}' does not exist.");
        }

        var tools = _options.DevChain.ToolsDirectory ?? Path.Combine(_options.DataDirectory ?? ".metanode", "tools");
        var installed = PackageBinary(tools);
        if (File.Exists(installed))
        {
            return installed;
        }

        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = PackageBinary(Path.Combine(dir.FullName, "contracts"));
                if (File.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "contracts", "package.json")))
                {
                    return candidate;
                }
            }
        }

        var npm = FindOnPath("npm");
        if (npm is null)
        {
            const string message = "npm is not installed, so the dev chain (anvil) cannot be installed: chain features are off. Install Node.js and npm (e.g. 'apt-get install npm') and restart the silo, or set MetaNode:Chain:RpcUrl to an Ethereum node.";
            LogNoNpm(_logger);
            _connector.Disable(message);
            return null;
        }

        Directory.CreateDirectory(tools);
        LogInstalling(_logger, $"{AnvilPackage}@{AnvilVersion}", tools);
        Console.WriteLine($"metanode-silo: installing the dev chain ({AnvilPackage}@{AnvilVersion}) into {tools} with npm; this happens once...");
        var install = new ProcessStartInfo(npm)
        {
            WorkingDirectory = tools,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "install", "--prefix", tools, "--no-audit", "--no-fund", "--no-save", "--loglevel=error", $"{AnvilPackage}@{AnvilVersion}" })
        {
            install.ArgumentList.Add(argument);
        }

        using var process = Process.Start(install) ?? throw new InvalidOperationException("npm could not be started.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0 || !File.Exists(installed))
        {
            throw new InvalidOperationException($"npm install {AnvilPackage}@{AnvilVersion} failed (exit {process.ExitCode}): {(await stderr).Trim()} {(await stdout).Trim()}");
        }

        Console.WriteLine("metanode-silo: dev chain installed.");
        return installed;
    }

    private static string PackageBinary(string root) =>
        Path.Combine(root, "node_modules", "@foundry-rs", "anvil-linux-amd64", "bin", "anvil");

    private void StartAnvil(string anvil, int port)
    {
        var info = new ProcessStartInfo(anvil)
        {
            // The working directory marks it as this silo's child (tests and tools find it by it).
            WorkingDirectory = _directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var arguments = new List<string>
        {
            "--host", "127.0.0.1",
            "--port", port.ToString(CultureInfo.InvariantCulture),
            "--chain-id", ChainId.ToString(CultureInfo.InvariantCulture),
            "--state", StateFile,
            "--state-interval", _options.DevChain.StateIntervalSeconds.ToString(CultureInfo.InvariantCulture),
        };
        if (_options.DevChain.BlockTimeSeconds > 0)
        {
            arguments.AddRange(["--block-time", _options.DevChain.BlockTimeSeconds.ToString(CultureInfo.InvariantCulture)]);
        }

        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        _log = new StreamWriter(new FileStream(Path.Combine(_directory, "anvil.log"), FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {anvil}.");
        process.OutputDataReceived += (_, e) => WriteLog(e.Data);
        process.ErrorDataReceived += (_, e) => WriteLog(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _anvil = process;
        File.WriteAllText(Path.Combine(_directory, "anvil.pid"), process.Id.ToString(CultureInfo.InvariantCulture));
    }

    private void WriteLog(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (this)
        {
            _log?.WriteLine(line);
        }
    }

    private async Task WaitReadyAsync(string rpcUrl, CancellationToken cancellationToken)
    {
        var web3 = new Web3(rpcUrl);
        var watch = Stopwatch.StartNew();
        while (true)
        {
            if (_anvil is null || _anvil.HasExited)
            {
                throw new InvalidOperationException($"anvil exited with code {_anvil?.ExitCode} at start-up; see {Path.Combine(_directory, "anvil.log")}.");
            }

            try
            {
                var id = await web3.Eth.ChainId.SendRequestAsync();
                if ((long)id.Value == ChainId)
                {
                    return;
                }
            }
            catch (Exception exception) when (ChainConnector.IsTransient(exception))
            {
            }

            if (watch.Elapsed > _options.DevChain.StartTimeout)
            {
                throw new TimeoutException($"anvil did not answer on {rpcUrl} within {_options.DevChain.StartTimeout}.");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>The registry recorded in the data directory if the chain still has it; otherwise a new deployment (and why).</summary>
    private async Task<string> EnsureRegistryAsync(string rpcUrl, EthECKey operatorKey, DevChainInfo? info, CancellationToken cancellationToken)
    {
        var web3 = new Web3(new Account(operatorKey, ChainId), rpcUrl);
        if (info?.Registry is { } recorded)
        {
            var code = await web3.Eth.GetCode.SendRequestAsync(recorded);
            if (!string.IsNullOrEmpty(code) && code != "0x")
            {
                // A registry of an earlier version (another signed type) would refuse this version's validators' signatures.
                if (MetaNode.Proofs.RegistryCode.Instance.Mismatch(Convert.FromHexString(code.AsSpan(2)), new MetaNode.Chain.RegistryDomain(ChainId, recorded)) is not { } mismatch)
                {
                    return recorded;
                }

                LogOtherRegistryCode(_logger, recorded, mismatch);
            }
            else
            {
                LogStateLost(_logger, recorded, StateFile);
            }
        }

        var address = operatorKey.GetPublicAddress().ToLowerInvariant();
        var data = RegistryClient.EncodeDeploy([address], 1);
        var input = new TransactionInput(data, null, address, new HexBigInteger(3_000_000), new HexBigInteger(BigInteger.Zero));
        var hash = await web3.TransactionManager.SendTransactionAsync(input);
        TransactionReceipt? receipt = null;
        for (var i = 0; i < 600 && receipt is null; i++)
        {
            // anvil may hand out the hash before the receipt exists.
            receipt = await web3.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(hash);
            if (receipt is null)
            {
                await Task.Delay(50, cancellationToken);
            }
        }

        if (receipt is null || receipt.Status.Value != 1)
        {
            throw new InvalidOperationException($"deploying the ResultRegistry on the dev chain failed (transaction {hash}).");
        }

        var registry = receipt.ContractAddress.ToLowerInvariant();
        WriteInfo(new DevChainInfo { Registry = registry, ChainId = ChainId, DeployedAtBlock = (long)receipt.BlockNumber.Value, Operator = address });
        LogDeployed(_logger, registry, address);
        return registry;
    }

    /// <summary>An anvil left running by a silo that was killed: stop it before starting another on the same state file.</summary>
    private void StopLeftover(DevChainInfo? info)
    {
        var pidFile = Path.Combine(_directory, "anvil.pid");
        if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            return;
        }

        try
        {
            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
            if (cmdline.Contains("anvil", StringComparison.Ordinal) && cmdline.Contains(StateFile, StringComparison.Ordinal))
            {
                LogLeftover(_logger, pid);
                using var leftover = Process.GetProcessById(pid);
                _ = Kill(pid, 15);
                if (!leftover.WaitForExit(10_000))
                {
                    leftover.Kill();
                }
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
        {
            // No such process any more.
        }

        _ = info;
    }

    private DevChainInfo? ReadInfo()
    {
        if (!File.Exists(InfoFile))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<DevChainInfo>(File.ReadAllText(InfoFile));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private void WriteInfo(DevChainInfo info)
    {
        var temporary = InfoFile + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(info, new JsonSerializerOptions { WriteIndented = true }));
        File.Move(temporary, InfoFile, overwrite: true);
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

#pragma warning disable SYSLIB1054 // a blittable libc call; LibraryImport would need unsafe code in the project.
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
#pragma warning restore SYSLIB1054
}

/// <summary>What the data directory remembers about the dev chain (<c>chain/devchain.json</c>).</summary>
public sealed class DevChainInfo
{
    public string? Registry { get; set; }

    public long ChainId { get; set; }

    public long DeployedAtBlock { get; set; }

    public string? Operator { get; set; }
}
