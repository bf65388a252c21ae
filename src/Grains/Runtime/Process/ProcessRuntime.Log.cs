using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Runtime.Process;

public sealed partial class ProcessRuntime
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Started vPod {VPodId}: process {Pid} runs {Program} in {WorkingDirectory}")]
    private partial void LogStarted(string vpodId, int pid, string program, string workingDirectory);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "vPod {VPodId}: process {Pid} exited with code {ExitCode}")]
    private partial void LogExited(string vpodId, int pid, int exitCode);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Stopping vPod {VPodId}: sent SIGTERM to process {Pid}; SIGKILL follows after {Timeout}")]
    private partial void LogStopping(string vpodId, int pid, TimeSpan timeout);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "vPod {VPodId}: process {Pid} did not exit within {Timeout} of SIGTERM; sending SIGKILL. Make the workload exit on SIGTERM or stop it with a longer timeout")]
    private partial void LogKillingAfterTimeout(string vpodId, int pid, TimeSpan timeout);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Force-stopping vPod {VPodId}: sent SIGKILL to process {Pid}")]
    private partial void LogKilling(string vpodId, int pid);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "Stopping vPod {VPodId}: process {Pid} was started by another runtime instance; sending {Signal} (SIGKILL follows after {Timeout})")]
    private partial void LogStoppingOrphan(string vpodId, int pid, string signal, TimeSpan timeout);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "vPod {VPodId}: process {Pid} started by runtime instance {Owner} is still running but cannot be supervised from here; stopping it before starting a new one")]
    private partial void LogReplacingOrphan(string vpodId, int pid, string owner);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Warning, Message = "vPod {VPodId}: process {Pid} exited but its output pipes are still open (a descendant left its process group); its exit is reported and output is still captured")]
    private partial void LogOutputStillOpen(string vpodId, int pid);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Warning, Message = "vPod {VPodId}: sending signal {Signal} to {Target} failed (a negative target is a process group)")]
    private partial void LogSignalFailed(Exception exception, string vpodId, int signal, int target);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "Removed vPod {VPodId} and its directory {Directory}")]
    private partial void LogRemoved(string vpodId, string directory);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Information, Message = "Stopping {Count} vPod processes before shutting down (SIGTERM, then SIGKILL after {Timeout})")]
    private partial void LogShuttingDown(int count, TimeSpan timeout);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Error, Message = "Stopping vPod {VPodId} (process {Pid}) during shutdown failed; it may still be running and must be killed by hand")]
    private partial void LogShutdownStopFailed(Exception exception, string vpodId, int pid);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Warning, Message = "vPod {VPodId}: the handle {Handle} is for node {HandleNode}, but this silo runs on {NodeId}; there is nothing to stop here")]
    private partial void LogForeignNode(string vpodId, string handle, string handleNode, string nodeId);

    [LoggerMessage(EventId = 1014, Level = LogLevel.Error, Message = "vPod {VPodId}: watching process {Pid} failed; its exit code is unknown")]
    private partial void LogMonitorFailed(Exception exception, string vpodId, int pid);

    [LoggerMessage(EventId = 1015, Level = LogLevel.Warning, Message = "MetaNode:Runtime:Process:IsolateProcessGroup is true but setsid was not found on PATH (install util-linux); workloads share the silo's process group and stop signals reach only their main process")]
    private partial void LogSetsidMissing();

    [LoggerMessage(EventId = 1016, Level = LogLevel.Information, Message = "vPod {VPodId}: wrote {Files} data files ({Bytes} bytes) into {Directory}")]
    private partial void LogDataWritten(string vpodId, int files, long bytes, string directory);

    [LoggerMessage(EventId = 1018, Level = LogLevel.Warning, Message = "Process vPods are NOT isolated on this silo: they run as the silo's own user, can read what it can, and their cpu, memory and pids limits are not enforced. Reason: {Reason}")]
    private partial void LogNotIsolated(string reason);

    [LoggerMessage(EventId = 1019, Level = LogLevel.Warning, Message = "vPod {VPodId}: its cgroup still holds processes and could not be removed; it is left behind")]
    private partial void LogCgroupStillBusy(string vpodId);
}
