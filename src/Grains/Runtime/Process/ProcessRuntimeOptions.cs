namespace MetaNode.Grains.Runtime.Process;

/// <summary>Configuration of the <c>process</c> runtime driver (section <c>MetaNode:Runtime:Process</c>).</summary>
public sealed class ProcessRuntimeOptions
{
    public const string SectionName = "MetaNode:Runtime:Process";

    /// <summary>
    /// Root of the per-vPod directories: <c>{DataDirectory}/vpods/{vpodId}/data</c> (the workload's working directory), <c>.../logs</c>
    /// and <c>.../key</c> (mode 0700, the workload's own signing key, passed as <c>METANODE_KEY_DIR</c>). A relative path is resolved
    /// against the silo's working directory. Keep it outside the silo's data directory, or the workload keys live under it: a silo
    /// that is not given one uses a sibling of its data directory (<c>{MetaNode:DataDirectory}-vpods</c>, see <see cref="ProcessRuntimeRoot"/>)
    /// and warns at start-up when the configured one is inside. The runtime used alone defaults to <c>{LocalApplicationData}/metanode/process-runtime</c>.
    /// </summary>
    public string DataDirectory { get; set; } = DefaultDataDirectory();

    /// <summary>
    /// The reference workload (<c>MetaNode.Workload.dll</c>), run with <c>dotnet</c> when a spec names neither an image nor a command.
    /// By default the copy the build compiles ahead of time into <c>workload/</c> beside the silo, or, where there is none (a
    /// publish for one platform), the plain one beside the silo.
    /// </summary>
    public string ReferenceWorkloadPath { get; set; } = DefaultReferenceWorkloadPath(AppContext.BaseDirectory);

    /// <summary>Where the reference workload is under <paramref name="siloDirectory"/>: <c>workload/</c> when it is there, else beside.</summary>
    public static string DefaultReferenceWorkloadPath(string siloDirectory)
    {
        var aheadOfTime = Path.Combine(siloDirectory, "workload", "MetaNode.Workload.dll");
        return File.Exists(aheadOfTime) ? aheadOfTime : Path.Combine(siloDirectory, "MetaNode.Workload.dll");
    }

    /// <summary>Size at which <c>vpod.log</c> is rotated.</summary>
    public long LogMaxBytes { get; set; } = 10L * 1024 * 1024;

    /// <summary>How many rotated files (<c>vpod.log.1</c> … <c>vpod.log.N</c>) are kept besides <c>vpod.log</c>; 0 keeps only the live file.</summary>
    public int LogMaxFiles { get; set; } = 3;

    /// <summary>The address workloads listen on, passed as <c>METANODE_HOST</c> and used in the endpoint URL.</summary>
    public string HostAddress { get; set; } = "127.0.0.1";

    /// <summary>How long a workload may take to exit after SIGTERM when the runtime shuts down or a vPod is removed, before SIGKILL.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a log follower looks for new output.</summary>
    public TimeSpan LogPollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Runs each workload as the leader of its own session and process group (through <c>setsid</c>), so that stop signals reach
    /// every process the workload started and none outlives it. When false, or when <c>setsid</c> is missing, only the workload's own process is signalled.
    /// </summary>
    public bool IsolateProcessGroup { get; set; } = true;

    /// <summary>How each workload is kept from the silo and from other vPods: its own uid and cgroup (see <see cref="ProcessIsolationOptions"/>).</summary>
    public ProcessIsolationOptions Isolation { get; set; } = new();

    /// <summary>The variables a workload inherits when <see cref="InheritedEnvironment"/> is not configured.</summary>
    public static IReadOnlyList<string> DefaultInheritedEnvironment { get; } = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "DOTNET_ROOT"];

    /// <summary>
    /// Variables of the silo's environment a workload inherits; null means <see cref="DefaultInheritedEnvironment"/>. Everything
    /// else (connection strings, keys) stays in the silo; the spec's <c>Env</c> and the <c>METANODE_*</c> variables are added on top.
    /// (Null rather than a pre-filled list because configuration binding appends to a list instead of replacing it.)
    /// </summary>
    public List<string>? InheritedEnvironment { get; set; }

    private static string DefaultDataDirectory()
    {
        var root = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        if (string.IsNullOrEmpty(root))
        {
            root = Path.GetTempPath();
        }

        return Path.Combine(root, "metanode", "process-runtime");
    }
}
