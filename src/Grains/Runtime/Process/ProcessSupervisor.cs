using System.Collections.Concurrent;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// The processes this runtime instance started and supervises, one current process and one log writer per vPod: starts them
/// (with their exit monitor) and, when the runtime shuts down, stops them all and closes their logs.
/// </summary>
internal sealed partial class ProcessSupervisor
{
    private readonly ProcessRuntimeOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly ProcessVPodDirectories _directories;
    private readonly ProcessLauncher _launcher;
    private readonly ProcessExitMonitor _monitor;
    private readonly ProcessSignaller _signaller;
    private readonly ConcurrentDictionary<string, ManagedProcess> _processes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RotatingLogWriter> _writers = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _shutdown = new();

    public ProcessSupervisor(
        ProcessRuntimeOptions options,
        ILogger logger,
        TimeProvider timeProvider,
        ProcessVPodDirectories directories,
        ProcessLauncher launcher,
        ProcessExitMonitor monitor,
        ProcessSignaller signaller)
    {
        _options = options;
        _logger = logger;
        _timeProvider = timeProvider;
        _directories = directories;
        _launcher = launcher;
        _monitor = monitor;
        _signaller = signaller;
    }

    /// <summary>Cancelled when the runtime shuts down (after its processes were stopped).</summary>
    public CancellationToken ShuttingDown => _shutdown.Token;

    /// <summary>The vPod's latest process started here (running or exited), if any.</summary>
    public ManagedProcess? Current(string vpodId) => _processes.GetValueOrDefault(vpodId);

    /// <summary>Launches the vPod's process, makes it the vPod's current one and watches for its exit.</summary>
    public ManagedProcess Start(string vpodId, VPodSpec spec, ProcessCommand command, uint? uid)
    {
        var writer = _writers.GetOrAdd(
            vpodId,
            static (id, state) => new RotatingLogWriter(id, state.Logs, state.Options.LogMaxBytes, state.Options.LogMaxFiles, state.Time, state.Logger),
            (Logs: _directories.LogsOf(vpodId), Options: _options, Time: _timeProvider, Logger: _logger));
        var managed = _launcher.Launch(vpodId, spec, command, uid, writer, _shutdown.Token);
        _processes[vpodId] = managed;
        _ = _monitor.MonitorAsync(managed, writer);
        LogStarted(_logger, vpodId, managed.Pid, command.FileName, _directories.DataOf(vpodId));
        return managed;
    }

    /// <summary>Drops the vPod's process and closes its log (the vPod is being removed).</summary>
    public void Forget(string vpodId)
    {
        _processes.TryRemove(vpodId, out _);
        if (_writers.TryRemove(vpodId, out var writer))
        {
            writer.Dispose();
        }
    }

    /// <summary>Stops every running process (SIGTERM, then SIGKILL after <see cref="ProcessRuntimeOptions.ShutdownTimeout"/>) and closes the logs.</summary>
    public async Task ShutDownAsync()
    {
        var running = _processes.Values.Where(static p => p.ExitCode is null).ToList();
        if (running.Count > 0)
        {
            LogShuttingDown(_logger, running.Count, _options.ShutdownTimeout);
        }

        await Task.WhenAll(running.Select(StopOnShutdownAsync)).ConfigureAwait(false);
        await _shutdown.CancelAsync().ConfigureAwait(false);
        foreach (var writer in _writers.Values)
        {
            writer.Dispose();
        }

        _writers.Clear();
        _shutdown.Dispose();

        async Task StopOnShutdownAsync(ManagedProcess process)
        {
            try
            {
                await _signaller.StopOwnedAsync(process, _options.ShutdownTimeout, force: false, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
            {
                LogShutdownStopFailed(_logger, ex, process.VPodId, process.Pid);
            }
        }
    }
}
