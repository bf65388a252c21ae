using System.Diagnostics;
using System.Globalization;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>
/// Builds how a vPod's process is started: its command line, working directory, redirected standard streams and an environment
/// made only of the inherited variables the options allow, the spec's own and the <c>METANODE_*</c> variables of the vPod.
/// </summary>
internal static class ProcessStartInfoFactory
{
    /// <param name="argv">The program and its arguments, already wrapped (setsid, isolation) as they are to run.</param>
    /// <param name="ownHome">Whether <c>HOME</c> is the vPod's data directory (isolated workloads: the silo's home is not theirs).</param>
    /// <param name="port">The workload port (<c>METANODE_PORT</c>); null when the vPod has none.</param>
    public static ProcessStartInfo Create(
        IReadOnlyList<string> argv,
        string vpodId,
        VPodSpec spec,
        ProcessRuntimeOptions options,
        string dataDirectory,
        string keyDirectory,
        bool ownHome,
        int? port)
    {
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
        foreach (var name in options.InheritedEnvironment ?? ProcessRuntimeOptions.DefaultInheritedEnvironment)
        {
            if (Environment.GetEnvironmentVariable(name) is { } value)
            {
                environment[name] = value;
            }
        }

        if (ownHome)
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
        environment[WorkloadKeyDirectory.EnvironmentVariable] = keyDirectory;
        environment["METANODE_HOST"] = options.HostAddress;
        if (port is { } p)
        {
            environment["METANODE_PORT"] = p.ToString(CultureInfo.InvariantCulture);
        }
        else
        {
            environment.Remove("METANODE_PORT");
        }

        return startInfo;
    }
}
