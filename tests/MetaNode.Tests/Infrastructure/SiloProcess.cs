using System.Diagnostics;
using System.Net;
using System.Text;
using MetaNode.Grains.Runtime;

namespace MetaNode.Tests.Infrastructure;

/// <summary>A real <c>metanode-silo</c> process with its own ports and data directory, started, stopped or killed by the test.</summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private readonly string[] _extraSettings;
    private Process? _process;

    public SiloProcess(string dataDirectory, params string[] extraSettings)
    {
        DataDirectory = dataDirectory;
        _extraSettings = extraSettings;
        AssignPorts();
    }

    public string DataDirectory { get; }

    /// <summary>An embedded silo without certificate files or the insecure switch: it makes its CA and admin identity, and copies the identity to an identity home (kept under its data directory here).</summary>
    private bool MakesItsOwnIdentity => !_extraSettings.Any(s =>
        s.Equals("--MetaNode:Profile=Cluster", StringComparison.OrdinalIgnoreCase) ||
        s.StartsWith("--MetaNode:Tls:CaCertificate=", StringComparison.Ordinal) ||
        s.Equals("--MetaNode:Tls:Insecure=true", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The admin identity clients of this silo call with: the one an embedded silo makes in its data directory, or, when
    /// the settings name certificate files (<c>ClusterTls</c>), the <c>admin</c> directory beside them; null when insecure.
    /// </summary>
    public string? AdminIdentity
    {
        get
        {
            if (_extraSettings.Any(s => s.Equals("--MetaNode:Tls:Insecure=true", StringComparison.OrdinalIgnoreCase)))
            {
                return null;
            }

            var ca = _extraSettings.FirstOrDefault(s => s.StartsWith("--MetaNode:Tls:CaCertificate=", StringComparison.Ordinal));
            return ca is null
                ? Path.Combine(DataDirectory, "identities", "admin")
                : Path.Combine(Path.GetDirectoryName(ca["--MetaNode:Tls:CaCertificate=".Length..])!, "admin");
        }
    }

    public int SiloPort { get; private set; }

    public int GatewayPort { get; private set; }

    public int HttpPort { get; private set; }

    public string Gateway => $"127.0.0.1:{GatewayPort}";

    public Uri HttpBase => new($"http://127.0.0.1:{HttpPort}");

    public int Pid => _process?.Id ?? 0;

    /// <summary>Everything the silo printed so far (for failure messages).</summary>
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

    public static string DotnetHost => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    /// <summary>Starts the silo and waits until <c>/healthz</c> answers 200; returns how long that took.</summary>
    /// <remarks>
    /// A free port can be taken by another process (a workload of a test running alongside) before the silo binds it: the
    /// silo then exits with "address already in use", and it is started again on other ports (at most twice). Only the
    /// silo's own <c>/healthz</c> counts, never another server's that happens to hold the port.
    /// </remarks>
    public async Task<TimeSpan> StartAsync(TimeSpan? timeout = null)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await StartOnceAsync(timeout);
            }
            catch (InvalidOperationException) when (attempt < 2 && Output.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                lock (_output)
                {
                    _output.Clear();
                }

                AssignPorts();
            }
        }
    }

    private void AssignPorts()
    {
        SiloPort = LoopbackPorts.Free();
        GatewayPort = LoopbackPorts.Free();
        HttpPort = LoopbackPorts.Free();
    }

    private async Task<TimeSpan> StartOnceAsync(TimeSpan? timeout)
    {
        var info = new ProcessStartInfo(DotnetHost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        string[] arguments =
        [
            Path.Combine(AppContext.BaseDirectory, "metanode-silo.dll"),
            $"--MetaNode:DataDirectory={DataDirectory}",
            $"--MetaNode:SiloPort={SiloPort}",
            $"--MetaNode:GatewayPort={GatewayPort}",
            $"--MetaNode:HttpAddress=127.0.0.1:{HttpPort}",
            .. MakesItsOwnIdentity ? [$"--MetaNode:Tls:IdentityHome={Path.Combine(DataDirectory, "identity-home")}"] : Array.Empty<string>(),
            .. _extraSettings,
        ];
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["DOTNET_gcServer"] = "0";
        var watch = Stopwatch.StartNew();
        _process = Process.Start(info) ?? throw new InvalidOperationException("could not start metanode-silo");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        while (watch.Elapsed < limit)
        {
            if (_process.HasExited)
            {
                // Let the output readers drain to the end before reporting what the silo printed.
                _process.WaitForExit();
                throw new InvalidOperationException($"metanode-silo exited with code {_process.ExitCode} before it was healthy:\n{Output}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(HttpBase, "/healthz"));
                if (response.StatusCode == HttpStatusCode.OK && (await response.Content.ReadAsStringAsync()).Contains("\"profile\"", StringComparison.Ordinal))
                {
                    return watch.Elapsed;
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"metanode-silo was not healthy on {HttpBase}healthz within {limit.TotalSeconds}s:\n{Output}");
    }

    /// <summary>kill -9: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: false);
            await process.WaitForExitAsync();
        }
    }

    /// <summary>SIGTERM and wait for a graceful exit.</summary>
    public async Task StopAsync(TimeSpan? timeout = null)
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }

        _ = Kill(process.Id, 15);
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(30));
        _process?.Dispose();
    }

    /// <summary>A free loopback port; the benchmarks, which share this file, ask here.</summary>
    public static int FreePort() => LoopbackPorts.Free();

    /// <summary>The silo's exit code once it has exited (137 when it had to be killed).</summary>
    public int? ExitCode => _process is { HasExited: true } process ? process.ExitCode : null;

    /// <summary>Deletes a test silo's data directory and, beside it, its process vPods' root (<c>{data}-vpods</c>: data, logs, keys).</summary>
    public static void DeleteSiloDirectories(string dataDirectory)
    {
        foreach (var directory in new[] { dataDirectory, Path.GetFullPath(dataDirectory).TrimEnd(Path.DirectorySeparatorChar) + "-vpods" })
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    /// <summary>
    /// Kills workloads still running from a test's data directory (a test that failed half-way leaves its vPods
    /// behind). Only processes whose working directory lies under <paramref name="dataDirectory"/> are touched.
    /// </summary>
    public static void KillWorkloadsUnder(string dataDirectory)
    {
        // Process vPods live beside the silo's data directory by default ("{data}-vpods"), so their keys are not under it.
        var full = Path.GetFullPath(dataDirectory).TrimEnd(Path.DirectorySeparatorChar);
        KillProcessesWorkingUnder(full + Path.DirectorySeparatorChar);
        KillProcessesWorkingUnder(full + "-vpods" + Path.DirectorySeparatorChar);
    }

    private static void KillProcessesWorkingUnder(string root)
    {
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid))
            {
                continue;
            }

            try
            {
                var cwd = new DirectoryInfo(Path.Combine(entry, "cwd")).LinkTarget;
                if (cwd is not null && (cwd + Path.DirectorySeparatorChar).StartsWith(root, StringComparison.Ordinal))
                {
                    _ = Kill(pid, 9);
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                // The process ended meanwhile, or is not ours to inspect.
            }
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
