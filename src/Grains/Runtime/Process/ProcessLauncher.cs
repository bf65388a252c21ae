using System.ComponentModel;
using System.Globalization;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;
using OsProcess = System.Diagnostics.Process;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// Starts a vPod's process: in its cgroup and under its uid when workloads are isolated, as the leader of its own process group
/// when setsid is there, with an empty stdin and its stdout and stderr pumped into the vPod's log.
/// </summary>
internal sealed partial class ProcessLauncher
{
    private readonly ProcessRuntimeOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly ProcessVPodDirectories _directories;
    private readonly ProcessIsolation _isolation;
    private readonly string? _setsidPath;
    private readonly string _nodeId;
    private readonly string _instanceId;

    public ProcessLauncher(
        ProcessRuntimeOptions options,
        ILogger logger,
        TimeProvider timeProvider,
        ProcessVPodDirectories directories,
        ProcessIsolation isolation,
        string nodeId,
        string instanceId)
    {
        _options = options;
        _logger = logger;
        _timeProvider = timeProvider;
        _directories = directories;
        _isolation = isolation;
        _nodeId = nodeId;
        _instanceId = instanceId;
        if (options.IsolateProcessGroup)
        {
            _setsidPath = ProcessCommand.FindOnPath("setsid");
            if (_setsidPath is null)
            {
                LogSetsidMissing(_logger);
            }
        }
    }

    /// <param name="uid">The vPod's own uid when workloads are isolated (its directories already belong to it); else null.</param>
    /// <param name="outputToken">Ends the output pumps (the runtime shutting down).</param>
    public ManagedProcess Launch(string vpodId, VPodSpec spec, ProcessCommand command, uint? uid, RotatingLogWriter writer, CancellationToken outputToken)
    {
        var dataDirectory = _directories.DataOf(vpodId);
        var ports = spec.Ports ?? [];
        int? port = ports.Count > 0 ? ports[0] : null;
        IReadOnlyList<string> argv = _setsidPath is null ? [command.FileName, .. command.Arguments] : [_setsidPath, command.FileName, .. command.Arguments];
        long oomKillsAtStart = 0;
        if (uid is { } owner && _isolation.Cgroups is { } cgroups)
        {
            var procs = cgroups.Create(vpodId, spec.CpuMillis, spec.MemoryBytes, _isolation.PidsLimit, _isolation.CpuBurstPercent);

            // Whatever an earlier run left in the cgroup (descendants that left its process group) goes before this one starts:
            // here, under the vPod's gate, never when a run ends, when another runtime over this root may already be starting one.
            cgroups.KillAll(vpodId);
            oomKillsAtStart = cgroups.OomKills(vpodId);
            argv = _isolation.Wrap(argv, procs, owner);
        }

        var startInfo = ProcessStartInfoFactory.Create(argv, vpodId, spec, _options, dataDirectory, _directories.KeyOf(vpodId), ownHome: uid is not null, port);
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
            _nodeId,
            startedAt,
            _instanceId,
            startMarker,
            port is { } endpointPort ? FormatEndpoint(_options.HostAddress, endpointPort) : null);
        var managed = new ManagedProcess(vpodId, process, handle, pid, startMarker, isolated: _setsidPath is not null) { OomKillsAtStart = oomKillsAtStart };
        managed.Pumps = Task.WhenAll(
            Task.Run(() => OutputPump.RunAsync(process.StandardOutput.BaseStream, LogStream.Stdout, writer, outputToken), CancellationToken.None),
            Task.Run(() => OutputPump.RunAsync(process.StandardError.BaseStream, LogStream.Stderr, writer, outputToken), CancellationToken.None));
        return managed;
    }

    private static string FormatEndpoint(string host, int port) =>
        host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[')
            ? $"http://[{host}]:{port.ToString(CultureInfo.InvariantCulture)}"
            : $"http://{host}:{port.ToString(CultureInfo.InvariantCulture)}";
}
