using MetaNode.Grains.Runtime;
using MetaNode.Grains.Runtime.Process;
using MetaNode.VPods;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MetaNode.Tests.Runtime;

/// <summary>A temporary data directory and the process runtimes made over it; disposing stops their processes and deletes the directory.</summary>
internal sealed class ProcessRuntimeSandbox : IAsyncDisposable
{
    public static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(30);

    private readonly List<ProcessRuntime> _runtimes = [];

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "metanode-process-tests", Guid.NewGuid().ToString("N"));

    public ProcessRuntime CreateRuntime(Action<ProcessRuntimeOptions>? configure = null)
    {
        var options = new ProcessRuntimeOptions
        {
            DataDirectory = Root,
            LogPollInterval = TimeSpan.FromMilliseconds(50),
            ShutdownTimeout = TimeSpan.FromSeconds(5),
        };
        configure?.Invoke(options);
        var runtime = new ProcessRuntime(Options.Create(options), NullLogger<ProcessRuntime>.Instance);
        _runtimes.Add(runtime);
        return runtime;
    }

    public static VPodSpec Shell(string script) => new()
    {
        Name = "test",
        Command = ["/bin/sh", "-c", script],
    };

    public async ValueTask DisposeAsync()
    {
        foreach (var runtime in _runtimes)
        {
            await runtime.DisposeAsync();
        }

        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }
}

internal static class ProcessTestWait
{
    /// <summary>Polls <paramref name="condition"/> until it holds; fails naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what) =>
        MetaNode.Tests.Infrastructure.Eventually.WaitAsync(condition, ok => ok, what, timeout);

    /// <summary>Reads the vPod's logs until <paramref name="condition"/> holds for them.</summary>
    public static async Task<IReadOnlyList<LogLine>> LogsAsync(ProcessRuntime runtime, string vpodId, Func<IReadOnlyList<LogLine>, bool> condition, string what)
    {
        IReadOnlyList<LogLine> lines = [];
        await UntilAsync(
            async () =>
            {
                lines = await runtime.ReadLogsAsync(vpodId, null, new LogQuery());
                return condition(lines);
            },
            ProcessRuntimeSandbox.WaitTimeout,
            what);
        return lines;
    }

    public static Task<IReadOnlyList<LogLine>> LineAsync(ProcessRuntime runtime, string vpodId, string text) =>
        LogsAsync(runtime, vpodId, lines => lines.Any(l => l.Text == text), $"the log line '{text}' of {vpodId}");

    public static async Task<WorkloadObservation> StateAsync(ProcessRuntime runtime, string vpodId, RuntimeHandle handle, WorkloadState state)
    {
        WorkloadObservation observation = new(WorkloadState.Unknown);
        await UntilAsync(
            async () =>
            {
                observation = await runtime.InspectAsync(vpodId, handle);
                return observation.State == state;
            },
            ProcessRuntimeSandbox.WaitTimeout,
            $"{vpodId} to be {state} (last seen: {observation.State})");
        return observation;
    }

    /// <summary>The next item of a follow, failing with a message naming <paramref name="what"/> when none comes in time.</summary>
    public static async Task<T> NextAsync<T>(IAsyncEnumerator<T> enumerator, CancellationToken timeout, string what)
    {
        try
        {
            if (!await enumerator.MoveNextAsync())
            {
                throw new InvalidOperationException($"The sequence ended while waiting for {what}.");
            }

            return enumerator.Current;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"Timed out waiting for {what}.");
        }
    }

    public static bool IsAlive(int pid) => ProcFs.ReadStat(pid) is { IsAlive: true };
}

/// <summary>File modes for the process runtime's tests, which run on Linux only (as the runtime does).</summary>
internal static class UnixModes
{
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public static UnixFileMode Of(string path) =>
        OperatingSystem.IsLinux() ? File.GetUnixFileMode(path) : throw new PlatformNotSupportedException("The process runtime's tests need Linux.");

    public static void Set(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The process runtime's tests need Linux.");
        }

        File.SetUnixFileMode(path, mode);
    }
}
