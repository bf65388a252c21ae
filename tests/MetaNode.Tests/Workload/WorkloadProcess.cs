using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using MetaNode.Workloads;

namespace MetaNode.Tests.Workload;

/// <summary>
/// Runs a workload as a real process — the built reference workload (<c>dotnet MetaNode.Workload.dll</c>) or the Python workload —
/// and collects its output line by line. Its key lives in <see cref="KeyDirectory"/>: the one the environment names in
/// <c>METANODE_KEY_DIR</c> (to restart over the same key), else a fresh temporary one removed on dispose, so no test process ever
/// falls back to the container default <c>/vpod/key</c>.
/// </summary>
internal sealed class WorkloadProcess : IAsyncDisposable
{
    public const string AssemblyFile = "MetaNode.Workload.dll";

    /// <summary>The interpreter of the Python workload: Debian's, which sees python3-ecdsa and python3-pycryptodome (<c>.ci/run</c> installs them).</summary>
    public const string PythonInterpreter = "/usr/bin/python3";

    private readonly Process _process;
    private readonly bool _ownsKeyDirectory;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Seen)> _waiters = [];
    private readonly Lock _gate = new();

    private WorkloadProcess(Process process, string keyDirectory, bool ownsKeyDirectory)
    {
        _process = process;
        KeyDirectory = keyDirectory;
        _ownsKeyDirectory = ownsKeyDirectory;
    }

    public int ProcessId => _process.Id;

    /// <summary>The workload's key directory (<c>METANODE_KEY_DIR</c>).</summary>
    public string KeyDirectory { get; }

    public IReadOnlyCollection<string> Lines => _lines;

    public static WorkloadProcess Start(IReadOnlyDictionary<string, string?> environment)
    {
        var assembly = Locate();
        return StartProgram(DotnetHost(), [assembly], Path.GetDirectoryName(assembly)!, environment);
    }

    /// <summary>The Python workload (<c>examples/python-workload/workload.py</c>) as copied beside the tests.</summary>
    public static string PythonScript => Path.Combine(AppContext.BaseDirectory, "examples", "python-workload", "workload.py");

    /// <summary>Runs the Python workload with <see cref="PythonInterpreter"/>.</summary>
    public static WorkloadProcess StartPython(IReadOnlyDictionary<string, string?> environment)
    {
        if (!File.Exists(PythonScript))
        {
            throw new FileNotFoundException($"The Python workload was not copied beside the tests: {PythonScript}.");
        }

        if (!File.Exists(PythonInterpreter))
        {
            throw new FileNotFoundException(
                $"{PythonInterpreter} is missing: the Python workload runs on Debian's python3 with python3-ecdsa and python3-pycryptodome (.ci/run installs them).");
        }

        return StartProgram(PythonInterpreter, ["-u", PythonScript], AppContext.BaseDirectory, environment);
    }

    public static WorkloadProcess StartProgram(string fileName, IReadOnlyList<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string?> environment)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Remove("ASPNETCORE_URLS");
        start.Environment.Remove("DOTNET_URLS");
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var ownsKeyDirectory = !environment.TryGetValue(WorkloadProtocol.KeyDirectoryVariable, out var keyDirectory) || string.IsNullOrEmpty(keyDirectory);
        if (ownsKeyDirectory)
        {
            keyDirectory = Path.Combine(Path.GetTempPath(), $"metanode-key-{Guid.NewGuid():N}");
            start.Environment[WorkloadProtocol.KeyDirectoryVariable] = keyDirectory;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var workload = new WorkloadProcess(process, keyDirectory!, ownsKeyDirectory);
        process.OutputDataReceived += (_, e) => workload.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => workload.OnLine(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {start.FileName} {string.Join(' ', arguments)}.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return workload;
    }

    /// <summary>Waits for an output line matching <paramref name="match"/>; the timeout message names <paramref name="what"/> and the output so far.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, string what, TimeSpan timeout)
    {
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            var existing = _lines.FirstOrDefault(match);
            if (existing is not null)
            {
                return existing;
            }

            _waiters.Add((match, seen));
        }

        try
        {
            return await seen.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The workload did not print {what} within {timeout}. Output so far:{Environment.NewLine}{string.Join(Environment.NewLine, _lines)}");
        }
    }

    /// <summary>Sends SIGTERM, as a runtime stopping the vPod does.</summary>
    public void Terminate()
    {
        if (Kill(_process.Id, SigTerm) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, SIGTERM) failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The workload (pid {_process.Id}) did not exit within {timeout}.");
        }

        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        if (_ownsKeyDirectory && Directory.Exists(KeyDirectory))
        {
            Directory.Delete(KeyDirectory, recursive: true);
        }
    }

    /// <summary>The workload built beside the tests (it is a project reference), else in its own project's output.</summary>
    private static string Locate()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, AssemblyFile);
        if (File.Exists(beside) && File.Exists(Path.ChangeExtension(beside, ".runtimeconfig.json")))
        {
            return beside;
        }

        // bin/<Configuration>/<tfm>/ of the test project mirrors that of the workload project.
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = output.Name;
        var configuration = output.Parent?.Name ?? "Debug";
        for (var dir = output; dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "src", "Workload", "bin", configuration, framework, AssemblyFile);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"{AssemblyFile} was found neither in {AppContext.BaseDirectory} nor under src/Workload/bin/{configuration}/{framework}; build src/Workload first.");
    }

    private static string DotnetHost()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }

        var current = Environment.ProcessPath;
        return current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet" ? current : "dotnet";
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            _lines.Enqueue(line);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(line))
                {
                    _waiters[i].Seen.TrySetResult(line);
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    private const int SigTerm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
