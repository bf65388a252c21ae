using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OsProcess = System.Diagnostics.Process;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// Runs vPod workloads as local processes of the silo's machine. A silo-local singleton.
/// <para>
/// Each vPod gets <c>{DataDirectory}/vpods/{vpodId}/</c> with <c>data/</c> (the working directory, <c>METANODE_DATA_DIR</c>),
/// <c>logs/</c> and <c>key/</c> (mode 0700, <c>METANODE_KEY_DIR</c>: the workload's own signing key; see <see cref="ProcessVPodDirectories"/>).
/// The runtime captures stdout and stderr through pipes and writes them to <c>logs/vpod.log</c> (see
/// <see cref="ProcessLogFormat"/>), rotated by size.
/// </para>
/// <para>
/// A handle records the pid, the node (machine id and boot id), the owning runtime instance and the process start time in clock
/// ticks (<c>/proc/{pid}/stat</c> field 22). A pid is only trusted, and only ever signalled, when its start time still matches, so
/// a pid reused by another program is never touched. A live process started by another runtime instance (a silo that died) is
/// <see cref="WorkloadState.Orphaned"/>: it can be stopped from here, but its output is no longer captured.
/// </para>
/// <para>
/// Workloads run as leaders of their own session and process group (unless <see cref="ProcessRuntimeOptions.IsolateProcessGroup"/>
/// is off), like the main process of a container: stop signals reach the whole group, and when the main process exits whatever
/// it left behind in its group is killed.
/// </para>
/// </summary>
public sealed partial class ProcessRuntime : IVPodRuntime, IAsyncDisposable
{
    private const int MaxExitHistory = 8;
    private const int MaxVPodIdLength = 128;

    /// <summary>How long a process may take to die after SIGKILL before stopping reports a failure.</summary>
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(10);

    /// <summary>How long the output pipes may stay open after the process exited before its exit is reported anyway.</summary>
    private static readonly TimeSpan DrainWait = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan CpuWindow = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MinCpuWindow = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan ForeignPollInterval = TimeSpan.FromMilliseconds(50);

    private readonly ProcessRuntimeOptions _options;
    private readonly ILogger<ProcessRuntime> _logger;
    private readonly TimeProvider _timeProvider;
    private readonly ProcessVPodDirectories _directories;
    private readonly ProcessIsolation _isolation;
    private readonly string? _setsidPath;
    private readonly long _clockTicksPerSecond;
    private readonly ConcurrentDictionary<string, ManagedProcess> _processes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, List<ExitRecord>> _exitHistory = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RotatingLogWriter> _writers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CpuSample> _cpuSamples = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _shutdown = new();
    private int _disposed;

    public ProcessRuntime(IOptions<ProcessRuntimeOptions> options, ILogger<ProcessRuntime> logger, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The process runtime needs Linux: it reads /proc and signals processes through libc.");
        }

        _options = options.Value;
        _logger = logger;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _directories = new ProcessVPodDirectories(_options.DataDirectory);
        _isolation = ProcessIsolation.Detect(_options.Isolation, _directories.VPodsRoot);
        if (!_isolation.Enabled)
        {
            if (_options.Isolation.Mode == ProcessIsolationMode.Required)
            {
                throw new InvalidOperationException(
                    $"{ProcessRuntimeOptions.SectionName}:Isolation:Mode is Required, but this silo cannot isolate process workloads: {_isolation.Problem}.");
            }

            LogNotIsolated(_isolation.Problem!);
        }

        _clockTicksPerSecond = NativeMethods.ClockTicksPerSecond();
        InstanceId = Guid.NewGuid().ToString("N");
        NodeId = ProcFs.ReadNodeId();
        if (_options.IsolateProcessGroup)
        {
            _setsidPath = ProcessCommand.FindOnPath("setsid");
            if (_setsidPath is null)
            {
                LogSetsidMissing();
            }
        }
    }

    public DeploymentMethod Method => DeploymentMethod.Process;

    /// <summary>Null when workloads run isolated (own uid, cgroup limits); otherwise why they are not.</summary>
    public string? LimitsNotEnforced => _isolation.Problem;

    /// <summary>Whether workloads run under uids and cgroups of their own.</summary>
    public bool Isolated => _isolation.Enabled;

    /// <summary>Identifies this runtime instance (and so this silo process); recorded as <see cref="RuntimeHandle.Owner"/>.</summary>
    public string InstanceId { get; }

    /// <summary>This machine and boot: <c>{machine-id}/{boot-id}</c>; recorded as <see cref="RuntimeHandle.Node"/>.</summary>
    public string NodeId { get; }

    /// <summary>The vPod's cgroup directory for a controller (memory, pids, cpu); null when workloads are not isolated.</summary>
    public string? GetCgroupDirectory(string vpodId, string controller)
    {
        CheckVPodId(vpodId);
        return _isolation.Cgroups?.DirectoryOf(vpodId, controller);
    }

    /// <summary>The directory holding a vPod's <c>data/</c>, <c>logs/</c> and <c>key/</c>.</summary>
    public string GetVPodDirectory(string vpodId)
    {
        CheckVPodId(vpodId);
        return _directories.VPodOf(vpodId);
    }

    /// <summary>
    /// The vPod's key directory (absolute; the workload's <c>METANODE_KEY_DIR</c>): created with mode 0700 at provision and start,
    /// kept across stops, restarts and re-adoption, deleted with the rest of the vPod's directory when the vPod is removed.
    /// </summary>
    public string GetKeyDirectory(string vpodId)
    {
        CheckVPodId(vpodId);
        return _directories.KeyOf(vpodId);
    }

    /// <summary>
    /// Refuses what a local process cannot be given: volumes, persistent storage (its files live in <c>METANODE_DATA_DIR</c>),
    /// more than one replica, a network policy (it shares the machine's network) and image pull secrets (it has no image);
    /// then checks the program as a start would.
    /// </summary>
    public void ValidateSpec(string vpodId, VPodSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        _ = ProcessCommand.Resolve(spec, _options); // ProcessSpecRules first, then the program
    }

    /// <summary>Checks the spec and creates the vPod's directories. The handle is not running (empty id) unless the vPod's process already runs here.</summary>
    public Task<RuntimeHandle> ProvisionAsync(string vpodId, VPodSpec spec, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(spec);
        _ = ProcessCommand.Resolve(spec, _options);
        EnsureDirectories(vpodId);
        if (_processes.TryGetValue(vpodId, out var current) && current.ExitCode is null)
        {
            return Task.FromResult(current.Handle);
        }

        return Task.FromResult(new RuntimeHandle(DeploymentMethod.Process, string.Empty, NodeId, default, InstanceId));
    }

    public async Task<RuntimeHandle> StartAsync(string vpodId, VPodSpec spec, RuntimeHandle? handle, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(spec);
        var command = ProcessCommand.Resolve(spec, _options);

        var gate = Gate(vpodId);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        ManagedProcess started;
        try
        {
            ThrowIfDisposed();
            _processes.TryGetValue(vpodId, out var current);
            if (current is { ExitCode: null })
            {
                return current.Handle;
            }

            if (handle is not null && !IsTracked(current, handle) && FindLive(handle) is { } orphan)
            {
                // Alive, but its output goes nowhere and nobody here can wait for it: replace it with a supervised process.
                LogReplacingOrphan(vpodId, orphan.Pid, handle.Owner ?? "unknown");
                await StopForeignAsync(vpodId, orphan, _options.ShutdownTimeout, force: false, cancellationToken).ConfigureAwait(false);
            }

            started = Launch(vpodId, spec, command);
        }
        finally
        {
            gate.Release();
        }

        if (Volatile.Read(ref _disposed) != 0)
        {
            // Shutdown began while this was starting and may have missed it.
            await StopOwnedAsync(started, _options.ShutdownTimeout, force: false, CancellationToken.None).ConfigureAwait(false);
            ThrowIfDisposed();
        }

        return started.Handle;
    }

    public Task<WorkloadObservation> InspectAsync(string vpodId, RuntimeHandle handle, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(handle);
        return Task.FromResult(Inspect(vpodId, handle));
    }

    public async Task<int?> StopAsync(string vpodId, RuntimeHandle handle, TimeSpan timeout, bool force, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);

        var gate = Gate(vpodId);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _processes.TryGetValue(vpodId, out var current);
            if (current is not null && IsTracked(current, handle))
            {
                return await StopOwnedAsync(current, timeout, force, cancellationToken).ConfigureAwait(false);
            }

            // The handle is not the vPod's current process: stop both whatever it points at and the current one.
            int? exitCode = null;
            if (current is { ExitCode: null })
            {
                exitCode = await StopOwnedAsync(current, timeout, force, cancellationToken).ConfigureAwait(false);
            }

            if (FindExit(vpodId, handle) is { } recorded)
            {
                return recorded.ExitCode;
            }

            if (handle.Id.Length == 0)
            {
                return exitCode;
            }

            if (!string.Equals(handle.Node, NodeId, StringComparison.Ordinal))
            {
                LogForeignNode(vpodId, handle.ToString(), handle.Node, NodeId);
                return exitCode;
            }

            if (FindLive(handle) is { } orphan)
            {
                await StopForeignAsync(vpodId, orphan, timeout, force, cancellationToken).ConfigureAwait(false);
            }

            return exitCode;
        }
        finally
        {
            gate.Release();
        }
    }

    public async Task RemoveAsync(string vpodId, RuntimeHandle? handle, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        CheckVPodId(vpodId);

        var gate = Gate(vpodId);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _processes.TryGetValue(vpodId, out var current);
            if (current is not null)
            {
                if (current.ExitCode is null)
                {
                    await StopOwnedAsync(current, _options.ShutdownTimeout, force: false, cancellationToken).ConfigureAwait(false);
                }

                await WaitBoundedAsync(current.Completed, DrainWait, cancellationToken).ConfigureAwait(false);
            }

            if (handle is not null && !IsTracked(current, handle) && FindLive(handle) is { } orphan)
            {
                await StopForeignAsync(vpodId, orphan, _options.ShutdownTimeout, force: false, cancellationToken).ConfigureAwait(false);
            }

            _processes.TryRemove(vpodId, out _);
            _exitHistory.TryRemove(vpodId, out _);
            _cpuSamples.TryRemove(vpodId, out _);
            if (_writers.TryRemove(vpodId, out var writer))
            {
                writer.Dispose();
            }

            // The key directory goes with the rest: the vPod and its identity are gone.
            var directory = _directories.VPodOf(vpodId);
            if (_isolation.Cgroups is { } cgroups && !await cgroups.RemoveAsync(vpodId, cancellationToken).ConfigureAwait(false))
            {
                LogCgroupStillBusy(vpodId);
            }

            if (Directory.Exists(directory))
            {
                _isolation.Release(directory);
                DeleteDirectory(directory);
                LogRemoved(vpodId, directory);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Writes the files into the vPod's data directory on this machine (<c>{data}/vpods/{id}/data</c>), each atomically, in order.</summary>
    public async Task WriteDataFilesAsync(string vpodId, VPodSpec spec, RuntimeHandle? handle, VPodDataFiles files, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(files);
        VPodDataValidation.ThrowIfInvalid(vpodId, files);
        var gate = Gate(vpodId);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var directory = DataDirectoryOf(vpodId);
            var uid = EnsureDirectories(vpodId);
            DataDirectoryWriter.Write(directory, files, uid is { } owner ? path => NativeMethods.ChangeOwner(path, owner, owner) : null);
            LogDataWritten(vpodId, files.Files.Count, files.TotalBytes, directory);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Samples the workload's process group. CPU is the share of one core used since the previous sample of this vPod
    /// (100 = one core busy; user + system time, including children the group has reaped). The first sample of a process waits
    /// ~200 ms to measure a window, as does a sample taken less than 100 ms after the previous one. Memory is the resident set
    /// (VmRSS) summed over the group; the limit is the spec's, enforced by the vPod's cgroup when workloads run isolated (see <see cref="LimitsNotEnforced"/>). Network bytes are
    /// the receive and transmit counters of the non-loopback interfaces of the process's network namespace: a process vPod shares
    /// the host's namespace, so these are the machine's totals, not the vPod's own traffic.
    /// </summary>
    public async Task<WorkloadUsage?> GetUsageAsync(string vpodId, RuntimeHandle handle, VPodSpec spec, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentNullException.ThrowIfNull(spec);

        if (FindLive(handle) is not { } stat)
        {
            return null;
        }

        var (ticks, members) = SampleGroup(stat);
        var now = Stopwatch.GetTimestamp();
        var previous = _cpuSamples.TryGetValue(vpodId, out var sample) && sample.Pid == stat.Pid && sample.StartMarker == stat.StartTicks ? sample : null;
        if (previous is null || Stopwatch.GetElapsedTime(previous.Timestamp, now) < MinCpuWindow)
        {
            previous ??= new CpuSample(stat.Pid, stat.StartTicks, ticks, now);
            var wait = CpuWindow - Stopwatch.GetElapsedTime(previous.Timestamp);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            }

            if (FindLive(handle) is not { } again)
            {
                return null;
            }

            (ticks, members) = SampleGroup(again);
            now = Stopwatch.GetTimestamp();
        }

        var seconds = Stopwatch.GetElapsedTime(previous.Timestamp, now).TotalSeconds;
        var cpu = seconds > 0 ? Math.Max(0, ticks - previous.Ticks) / (double)_clockTicksPerSecond / seconds * 100 : 0;
        _cpuSamples[vpodId] = new CpuSample(stat.Pid, stat.StartTicks, ticks, now);

        long memory = 0;
        foreach (var member in members)
        {
            memory += ProcFs.ReadResidentBytes(member.Pid);
        }

        var (rx, tx) = ProcFs.ReadNetworkBytes(stat.Pid);
        return new WorkloadUsage(Math.Round(cpu, 2), memory, spec.MemoryBytes, rx, tx);
    }

    public Task<IReadOnlyList<LogLine>> ReadLogsAsync(string vpodId, RuntimeHandle? handle, LogQuery query, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(query);
        return ProcessLogReader.ReadAsync(LogsDirectoryOf(vpodId), query, cancellationToken);
    }

    public async IAsyncEnumerable<LogLine> FollowLogsAsync(
        string vpodId,
        RuntimeHandle? handle,
        LogQuery query,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(query);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _shutdown.Token);
        await foreach (var line in ProcessLogReader.FollowAsync(LogsDirectoryOf(vpodId), query, _options.LogPollInterval, linked.Token).ConfigureAwait(false))
        {
            yield return line;
        }
    }

    /// <summary>Stops every process this instance started (SIGTERM, then SIGKILL after <see cref="ProcessRuntimeOptions.ShutdownTimeout"/>) and closes the logs.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var running = _processes.Values.Where(static p => p.ExitCode is null).ToList();
        if (running.Count > 0)
        {
            LogShuttingDown(running.Count, _options.ShutdownTimeout);
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
                await StopOwnedAsync(process, _options.ShutdownTimeout, force: false, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
            {
                LogShutdownStopFailed(ex, process.VPodId, process.Pid);
            }
        }
    }

    private ManagedProcess Launch(string vpodId, VPodSpec spec, ProcessCommand command)
    {
        var dataDirectory = DataDirectoryOf(vpodId);
        var logsDirectory = LogsDirectoryOf(vpodId);
        var uid = EnsureDirectories(vpodId);
        var writer = _writers.GetOrAdd(
            vpodId,
            static (id, state) => new RotatingLogWriter(id, state.Logs, state.Options.LogMaxBytes, state.Options.LogMaxFiles, state.Time, state.Logger),
            (Logs: logsDirectory, Options: _options, Time: _timeProvider, Logger: (ILogger)_logger));

        var ports = spec.Ports ?? [];
        int? port = ports.Count > 0 ? ports[0] : null;
        IReadOnlyList<string> argv = _setsidPath is null ? [command.FileName, .. command.Arguments] : [_setsidPath, command.FileName, .. command.Arguments];
        long oomKillsAtStart = 0;
        if (uid is { } owner && _isolation.Cgroups is { } cgroups)
        {
            var procs = cgroups.Create(vpodId, spec.CpuMillis, spec.MemoryBytes, _isolation.PidsLimit);

            // Whatever an earlier run left in the cgroup (descendants that left its process group) goes before this one starts:
            // here, under the vPod's gate, never when a run ends, when another runtime over this root may already be starting one.
            cgroups.KillAll(vpodId);
            oomKillsAtStart = cgroups.OomKills(vpodId);
            argv = _isolation.Wrap(argv, procs, owner);
        }

        var startInfo = new ProcessStartInfo
        {
            FileName = argv[0],
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dataDirectory,
        };
        foreach (var argument in argv.Skip(1))
        {
            startInfo.ArgumentList.Add(argument);
        }

        var environment = startInfo.Environment;
        environment.Clear();
        foreach (var name in _options.InheritedEnvironment ?? ProcessRuntimeOptions.DefaultInheritedEnvironment)
        {
            if (Environment.GetEnvironmentVariable(name) is { } value)
            {
                environment[name] = value;
            }
        }

        if (uid is not null)
        {
            // The silo's home is not the workload's to read or write.
            environment["HOME"] = dataDirectory;
        }

        foreach (var (name, value) in spec.Env ?? new Dictionary<string, string>())
        {
            environment[name] = value;
        }

        environment["METANODE_VPOD_ID"] = vpodId;
        environment["METANODE_VPOD_NAME"] = spec.Name;
        environment["METANODE_VPOD_TYPE"] = spec.Type.ToString().ToLowerInvariant();
        environment["METANODE_DATA_DIR"] = dataDirectory;
        environment[WorkloadKeyDirectory.EnvironmentVariable] = _directories.KeyOf(vpodId);
        environment["METANODE_HOST"] = _options.HostAddress;
        if (port is { } p)
        {
            environment["METANODE_PORT"] = p.ToString(CultureInfo.InvariantCulture);
        }
        else
        {
            environment.Remove("METANODE_PORT");
        }

        var process = new OsProcess { StartInfo = startInfo };
        var startedAt = _timeProvider.GetUtcNow();
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            process.Dispose();
            throw new InvalidVPodSpecException($"vPod '{vpodId}': starting '{command.FileName}' failed: {ex.Message}.");
        }

        var pid = process.Id;
        var startMarker = ProcFs.ReadStat(pid)?.StartTicks ?? 0;
        try
        {
            // The workload gets an empty stdin instead of the silo's.
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // It has already exited; its exit is reported by the monitor.
        }

        var handle = new RuntimeHandle(
            DeploymentMethod.Process,
            pid.ToString(CultureInfo.InvariantCulture),
            NodeId,
            startedAt,
            InstanceId,
            startMarker,
            port is { } endpointPort ? FormatEndpoint(_options.HostAddress, endpointPort) : null);
        var managed = new ManagedProcess(vpodId, process, handle, pid, startMarker, isolated: _setsidPath is not null) { OomKillsAtStart = oomKillsAtStart };
        var token = _shutdown.Token;
        managed.Pumps = Task.WhenAll(
            Task.Run(() => OutputPump.RunAsync(process.StandardOutput.BaseStream, LogStream.Stdout, writer, token), CancellationToken.None),
            Task.Run(() => OutputPump.RunAsync(process.StandardError.BaseStream, LogStream.Stderr, writer, token), CancellationToken.None));
        _processes[vpodId] = managed;
        _ = MonitorAsync(managed, writer);
        LogStarted(vpodId, pid, command.FileName, dataDirectory);
        return managed;
    }

    private async Task MonitorAsync(ManagedProcess managed, RotatingLogWriter writer)
    {
        var exitCode = -1;
        try
        {
            await managed.Process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            exitCode = managed.Process.ExitCode;
            if (_isolation.Cgroups is { } cgroups)
            {
                // Before the exit is told: the mark the kernel's OOM killer leaves in the cgroup's counters.
                managed.OomKilled = cgroups.OomKills(managed.VPodId) > managed.OomKillsAtStart;
            }

            managed.MarkExited(exitCode);
            if (managed.Isolated)
            {
                // The main process is gone: so is whatever it left running in its group, as when a container's main process exits.
                TrySignal(managed.VPodId, -managed.Pid, NativeMethods.SigKill);
            }

            if (!await WaitBoundedAsync(managed.Pumps, DrainWait, CancellationToken.None).ConfigureAwait(false))
            {
                LogOutputStillOpen(managed.VPodId, managed.Pid);
            }

            writer.Flush();
            RecordExit(managed, exitCode);
            LogExited(managed.VPodId, managed.Pid, exitCode);
        }
        catch (Exception ex) when (ex is InvalidOperationException or Win32Exception)
        {
            LogMonitorFailed(ex, managed.VPodId, managed.Pid);
        }
        finally
        {
            managed.MarkCompleted(exitCode);
            if (managed.Pumps.IsCompleted)
            {
                managed.Process.Dispose();
            }
            else
            {
                _ = managed.Pumps.ContinueWith(static (_, state) => ((OsProcess)state!).Dispose(), managed.Process, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
    }

    private async Task<int?> StopOwnedAsync(ManagedProcess managed, TimeSpan timeout, bool force, CancellationToken cancellationToken)
    {
        if (managed.ExitCode is null)
        {
            if (!force)
            {
                LogStopping(managed.VPodId, managed.Pid, timeout);
                SignalOwned(managed, NativeMethods.SigTerm);
                if (!await WaitBoundedAsync(managed.Exited, timeout, cancellationToken).ConfigureAwait(false))
                {
                    LogKillingAfterTimeout(managed.VPodId, managed.Pid, timeout);
                    SignalOwned(managed, NativeMethods.SigKill);
                }
            }
            else
            {
                LogKilling(managed.VPodId, managed.Pid);
                SignalOwned(managed, NativeMethods.SigKill);
            }

            if (!await WaitBoundedAsync(managed.Exited, KillWait, cancellationToken).ConfigureAwait(false))
            {
                throw new TimeoutException($"vPod '{managed.VPodId}': process {managed.Pid} did not exit within {KillWait.TotalSeconds:0}s of SIGKILL; it may be stuck in uninterruptible I/O.");
            }
        }

        // Let the output reach the log before reporting the stop.
        await WaitBoundedAsync(managed.Completed, DrainWait, cancellationToken).ConfigureAwait(false);
        return managed.ExitCode;
    }

    private async Task StopForeignAsync(string vpodId, ProcStat process, TimeSpan timeout, bool force, CancellationToken cancellationToken)
    {
        var group = process.ProcessGroup == process.Pid;
        if (!force)
        {
            LogStoppingOrphan(vpodId, process.Pid, "SIGTERM", timeout);
            SignalForeign(vpodId, process, group, NativeMethods.SigTerm);
            if (await WaitGoneAsync(process, timeout, cancellationToken).ConfigureAwait(false))
            {
                KillGroupLeftovers(vpodId, process, group);
                return;
            }

            LogKillingAfterTimeout(vpodId, process.Pid, timeout);
        }
        else
        {
            LogStoppingOrphan(vpodId, process.Pid, "SIGKILL", TimeSpan.Zero);
        }

        SignalForeign(vpodId, process, group, NativeMethods.SigKill);
        if (!await WaitGoneAsync(process, KillWait, cancellationToken).ConfigureAwait(false))
        {
            throw new TimeoutException($"vPod '{vpodId}': process {process.Pid} did not exit within {KillWait.TotalSeconds:0}s of SIGKILL; it may be stuck in uninterruptible I/O.");
        }

        KillGroupLeftovers(vpodId, process, group);
    }

    private void KillGroupLeftovers(string vpodId, ProcStat leader, bool group)
    {
        if (group)
        {
            TrySignal(vpodId, -leader.Pid, NativeMethods.SigKill);
        }
    }

    private void SignalOwned(ManagedProcess managed, int signal)
    {
        if (managed.ExitCode is null)
        {
            SignalVerified(managed.VPodId, managed.Pid, managed.StartMarker, managed.Isolated, signal);
        }
    }

    private void SignalForeign(string vpodId, ProcStat process, bool group, int signal) =>
        SignalVerified(vpodId, process.Pid, process.StartTicks, group, signal);

    /// <summary>
    /// Signals <paramref name="pid"/> only while it is still the process that started at <paramref name="startMarker"/>; its whole
    /// group when it leads one (a group id is not reused while the leader lives), else the process alone (e.g. before setsid ran).
    /// </summary>
    private void SignalVerified(string vpodId, int pid, long startMarker, bool group, int signal)
    {
        if (ProcFs.ReadStat(pid) is not { IsAlive: true } now || now.StartTicks != startMarker)
        {
            return;
        }

        if (group && now.ProcessGroup == pid && TrySignal(vpodId, -pid, signal))
        {
            return;
        }

        TrySignal(vpodId, pid, signal);
    }

    private bool TrySignal(string vpodId, int target, int signal)
    {
        try
        {
            return NativeMethods.SendSignal(target, signal);
        }
        catch (InvalidOperationException ex)
        {
            LogSignalFailed(ex, vpodId, signal, target);
            return false;
        }
    }

    private static async Task<bool> WaitGoneAsync(ProcStat process, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            if (ProcFs.ReadStat(process.Pid) is not { IsAlive: true } now || now.StartTicks != process.StartTicks)
            {
                return true;
            }

            if (Stopwatch.GetElapsedTime(started) >= timeout)
            {
                return false;
            }

            await Task.Delay(ForeignPollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<bool> WaitBoundedAsync(Task task, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private WorkloadObservation Inspect(string vpodId, RuntimeHandle handle)
    {
        if (handle.Id.Length == 0)
        {
            return Directory.Exists(_directories.VPodOf(vpodId))
                ? new WorkloadObservation(WorkloadState.Created, Detail: "provisioned, not started")
                : WorkloadObservation.NotFound($"vPod '{vpodId}' has no directory under {_directories.VPodsRoot}");
        }

        if (!string.Equals(handle.Node, NodeId, StringComparison.Ordinal))
        {
            return WorkloadObservation.NotFound($"the handle is for node '{handle.Node}'; this silo runs on '{NodeId}' (another machine or an earlier boot)");
        }

        if (!TryParsePid(handle, out var pid))
        {
            return WorkloadObservation.NotFound($"'{handle.Id}' is not a process id");
        }

        if (_processes.TryGetValue(vpodId, out var current) && IsTracked(current, handle))
        {
            // Exited once the output is in the log too, so whoever reacts to the exit reads the complete log.
            return current.Completed.IsCompletedSuccessfully
                ? new WorkloadObservation(WorkloadState.Exited, current.Completed.Result, current.OomKilled, Detail: ExitDetail(pid, current.Completed.Result, current.OomKilled))
                : new WorkloadObservation(WorkloadState.Running, Detail: $"process {pid}");
        }

        if (FindExit(vpodId, handle) is { } recorded)
        {
            return new WorkloadObservation(WorkloadState.Exited, recorded.ExitCode, recorded.OomKilled, Detail: ExitDetail(pid, recorded.ExitCode, recorded.OomKilled));
        }

        if (FindLive(handle) is not null)
        {
            return new WorkloadObservation(
                WorkloadState.Orphaned,
                Detail: $"process {pid} is alive but was started by runtime instance '{handle.Owner ?? "unknown"}' and is not supervised by this one ('{InstanceId}')");
        }

        return WorkloadObservation.NotFound(ProcFs.ReadStat(pid) is { IsAlive: true }
            ? $"pid {pid} now belongs to another process (its start time differs from the handle's)"
            : $"process {pid} is gone");
    }

    private static string ExitDetail(int pid, int exitCode, bool oomKilled) =>
        oomKilled
            ? $"process {pid} was killed by the kernel's OOM killer at the vPod's memory limit (exit code {exitCode})"
            : $"process {pid} exited with code {exitCode}";

    /// <summary>Creates the vPod's directories; when isolating, gives them their owners and returns the vPod's uid.</summary>
    private uint? EnsureDirectories(string vpodId)
    {
        _directories.Ensure(vpodId);
        if (!_isolation.Enabled)
        {
            return null;
        }

        var directory = _directories.VPodOf(vpodId);
        var uid = _isolation.UidOf(vpodId, directory, out var allocated);
        ProcessIsolation.Own(directory, _directories.DataOf(vpodId), _directories.KeyOf(vpodId), _directories.LogsOf(vpodId), uid, allocated);
        return uid;
    }

    private bool IsTracked(ManagedProcess? managed, RuntimeHandle handle) =>
        managed is not null
        && string.Equals(handle.Id, managed.Handle.Id, StringComparison.Ordinal)
        && handle.StartMarker == managed.StartMarker
        && string.Equals(handle.Node, NodeId, StringComparison.Ordinal);

    /// <summary>The live process a handle names on this node, when its start time still matches (so the pid was not reused).</summary>
    private ProcStat? FindLive(RuntimeHandle handle)
    {
        if (handle.StartMarker == 0
            || !string.Equals(handle.Node, NodeId, StringComparison.Ordinal)
            || !TryParsePid(handle, out var pid))
        {
            return null;
        }

        return ProcFs.ReadStat(pid) is { IsAlive: true } stat && stat.StartTicks == handle.StartMarker ? stat : null;
    }

    private ExitRecord? FindExit(string vpodId, RuntimeHandle handle)
    {
        if (!string.Equals(handle.Node, NodeId, StringComparison.Ordinal)
            || !TryParsePid(handle, out var pid)
            || !_exitHistory.TryGetValue(vpodId, out var history))
        {
            return null;
        }

        lock (history)
        {
            return history.FindLast(e => e.Pid == pid && e.StartMarker == handle.StartMarker);
        }
    }

    private void RecordExit(ManagedProcess managed, int exitCode)
    {
        var history = _exitHistory.GetOrAdd(managed.VPodId, static _ => []);
        lock (history)
        {
            history.Add(new ExitRecord(managed.Pid, managed.StartMarker, exitCode, managed.OomKilled));
            if (history.Count > MaxExitHistory)
            {
                history.RemoveAt(0);
            }
        }
    }

    private (long Ticks, List<ProcStat> Members) SampleGroup(ProcStat leader)
    {
        var members = leader.ProcessGroup == leader.Pid ? ProcFs.ReadGroup(leader.Pid) : [];
        if (members.Count == 0)
        {
            members.Add(leader);
        }

        long ticks = 0;
        foreach (var member in members)
        {
            ticks += member.TotalTicks;
        }

        return (ticks, members);
    }

    private static bool TryParsePid(RuntimeHandle handle, out int pid) =>
        int.TryParse(handle.Id, NumberStyles.None, CultureInfo.InvariantCulture, out pid) && pid > 0;

    private static string FormatEndpoint(string host, int port) =>
        host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[')
            ? $"http://[{host}]:{port.ToString(CultureInfo.InvariantCulture)}"
            : $"http://{host}:{port.ToString(CultureInfo.InvariantCulture)}";

    private static void DeleteDirectory(string directory)
    {
        // A process that outlived its group kill could still be creating files: retry a few times.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
                return;
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            catch (IOException) when (attempt < 3)
            {
                Thread.Yield();
            }
        }
    }

    private string DataDirectoryOf(string vpodId) => _directories.DataOf(vpodId);

    private string LogsDirectoryOf(string vpodId) => _directories.LogsOf(vpodId);

    private SemaphoreSlim Gate(string vpodId) => _gates.GetOrAdd(vpodId, static _ => new SemaphoreSlim(1, 1));

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private static void CheckVPodId(string vpodId)
    {
        ArgumentException.ThrowIfNullOrEmpty(vpodId);
        var valid = vpodId.Length <= MaxVPodIdLength && char.IsAsciiLetterOrDigit(vpodId[0]);
        foreach (var c in vpodId)
        {
            valid &= char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.';
        }

        if (!valid)
        {
            throw new ArgumentException($"vPod id '{vpodId}' must be 1 to {MaxVPodIdLength} letters, digits, '-', '_' or '.', starting with a letter or digit.", nameof(vpodId));
        }
    }
}
