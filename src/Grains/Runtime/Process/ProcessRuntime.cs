using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

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

    private readonly ProcessRuntimeOptions _options;
    private readonly ILogger<ProcessRuntime> _logger;
    private readonly ProcessVPodDirectories _directories;
    private readonly ProcessIsolation _isolation;
    private readonly ProcessVPodResources _resources;
    private readonly ProcessExitHistory _exits = new();
    private readonly ProcessSignaller _signaller;
    private readonly ProcessHandleResolver _handles;
    private readonly ProcessSupervisor _supervisor;
    private readonly ProcessUsageSampler _usage;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);
    private int _disposed;

    /// <summary>
    /// At start, the empty vPod cgroups of this vPod root older than this are removed (left by workloads that ended while no silo ran);
    /// younger ones may be another silo's, sharing the root, between making a cgroup and its workload joining it.
    /// </summary>
    private static readonly TimeSpan LeftoverCgroupAge = TimeSpan.FromSeconds(30);

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
        var time = timeProvider ?? TimeProvider.System;
        _directories = new ProcessVPodDirectories(_options.DataDirectory);
        _isolation = ProcessIsolation.Detect(_options.Isolation, _directories.VPodsRoot);
        if (!_isolation.Enabled)
        {
            if (_options.Isolation.Mode == ProcessIsolationMode.Required)
            {
                throw new InvalidOperationException(
                    $"{ProcessRuntimeOptions.SectionName}:Isolation:Mode is Required, but this silo cannot isolate process workloads: {_isolation.Problem}.");
            }

            LogNotIsolated(_logger, _isolation.Problem!);
        }

        if (_isolation.Enabled && ProcessIsolation.CpuBurstProblem(_options.Isolation.CpuBurstPercent, _isolation.BurstSupported) is { } burstProblem)
        {
            throw new InvalidOperationException(burstProblem);
        }

        if (_isolation.Cgroups is { } cgroups && cgroups.RemoveEmpty(time.GetUtcNow().UtcDateTime - LeftoverCgroupAge) is > 0 and var removed)
        {
            LogLeftoverCgroupsRemoved(_logger, removed, _directories.VPodsRoot);
        }

        _usage = new ProcessUsageSampler(NativeMethods.ClockTicksPerSecond());
        InstanceId = Guid.NewGuid().ToString("N");
        NodeId = ProcFs.ReadNodeId();
        var launcher = new ProcessLauncher(_options, _logger, time, _directories, _isolation, NodeId, InstanceId);
        _resources = new ProcessVPodResources(_logger, _directories, _isolation);
        _signaller = new ProcessSignaller(_logger);
        _handles = new ProcessHandleResolver(NodeId, InstanceId, _directories, _exits);
        var monitor = new ProcessExitMonitor(_logger, _isolation, _signaller, _exits);
        _supervisor = new ProcessSupervisor(_options, _logger, time, _directories, launcher, monitor, _signaller);
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
        _resources.Ensure(vpodId);
        if (_supervisor.Current(vpodId) is { ExitCode: null } current)
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
            var current = _supervisor.Current(vpodId);
            if (current is { ExitCode: null })
            {
                return current.Handle;
            }

            if (handle is not null && !_handles.IsTracked(current, handle) && _handles.FindLive(handle) is { } orphan)
            {
                // Alive, but its output goes nowhere and nobody here can wait for it: replace it with a supervised process.
                LogReplacingOrphan(_logger, vpodId, orphan.Pid, handle.Owner ?? "unknown");
                await _signaller.StopForeignAsync(vpodId, orphan, _options.ShutdownTimeout, force: false, cancellationToken).ConfigureAwait(false);
            }

            started = _supervisor.Start(vpodId, spec, command, _resources.Ensure(vpodId));
        }
        finally
        {
            gate.Release();
        }

        if (Volatile.Read(ref _disposed) != 0)
        {
            // Shutdown began while this was starting and may have missed it.
            await _signaller.StopOwnedAsync(started, _options.ShutdownTimeout, force: false, CancellationToken.None).ConfigureAwait(false);
            ThrowIfDisposed();
        }

        return started.Handle;
    }

    public Task<WorkloadObservation> InspectAsync(string vpodId, RuntimeHandle handle, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(handle);
        return Task.FromResult(_handles.Observe(vpodId, handle, _supervisor.Current(vpodId)));
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
            var current = _supervisor.Current(vpodId);
            if (current is not null && _handles.IsTracked(current, handle))
            {
                return await _signaller.StopOwnedAsync(current, timeout, force, cancellationToken).ConfigureAwait(false);
            }

            // The handle is not the vPod's current process: stop both whatever it points at and the current one.
            int? exitCode = null;
            if (current is { ExitCode: null })
            {
                exitCode = await _signaller.StopOwnedAsync(current, timeout, force, cancellationToken).ConfigureAwait(false);
            }

            if (_handles.FindExit(vpodId, handle) is { } recorded)
            {
                return recorded.ExitCode;
            }

            if (handle.Id.Length == 0)
            {
                return exitCode;
            }

            if (!_handles.IsThisNode(handle))
            {
                LogForeignNode(_logger, vpodId, handle.ToString(), handle.Node, NodeId);
                return exitCode;
            }

            if (_handles.FindLive(handle) is { } orphan)
            {
                await _signaller.StopForeignAsync(vpodId, orphan, timeout, force, cancellationToken).ConfigureAwait(false);
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
            var current = _supervisor.Current(vpodId);
            if (current is not null)
            {
                if (current.ExitCode is null)
                {
                    await _signaller.StopOwnedAsync(current, _options.ShutdownTimeout, force: false, cancellationToken).ConfigureAwait(false);
                }

                await BoundedWait.WaitAsync(current.Completed, ProcessExitMonitor.DrainWait, cancellationToken).ConfigureAwait(false);
            }

            if (handle is not null && !_handles.IsTracked(current, handle) && _handles.FindLive(handle) is { } orphan)
            {
                await _signaller.StopForeignAsync(vpodId, orphan, _options.ShutdownTimeout, force: false, cancellationToken).ConfigureAwait(false);
            }

            _supervisor.Forget(vpodId);
            _exits.Forget(vpodId);
            _usage.Forget(vpodId);
            await _resources.DeleteAsync(vpodId, cancellationToken).ConfigureAwait(false);
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
            var directory = _directories.DataOf(vpodId);
            var uid = _resources.Ensure(vpodId);
            DataDirectoryWriter.Write(directory, files, uid is { } owner ? path => NativeMethods.ChangeOwner(path, owner, owner) : null);
            LogDataWritten(_logger, vpodId, files.Files.Count, files.TotalBytes, directory);
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

        return await _usage.SampleAsync(vpodId, () => _handles.FindLive(handle), spec, cancellationToken).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<LogLine>> ReadLogsAsync(string vpodId, RuntimeHandle? handle, LogQuery query, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        CheckVPodId(vpodId);
        ArgumentNullException.ThrowIfNull(query);
        return ProcessLogReader.ReadAsync(_directories.LogsOf(vpodId), query, cancellationToken);
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
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _supervisor.ShuttingDown);
        await foreach (var line in ProcessLogReader.FollowAsync(_directories.LogsOf(vpodId), query, _options.LogPollInterval, linked.Token).ConfigureAwait(false))
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

        await _supervisor.ShutDownAsync().ConfigureAwait(false);
    }

    private SemaphoreSlim Gate(string vpodId) => _gates.GetOrAdd(vpodId, static _ => new SemaphoreSlim(1, 1));

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private static void CheckVPodId(string vpodId) => VPodNames.ThrowIfInvalidVPodId(vpodId, nameof(vpodId));
}
