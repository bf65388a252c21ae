using System.Globalization;
using MetaNode.VPods;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>The program and arguments a process vPod runs, resolved and checked from its spec.</summary>
internal sealed record ProcessCommand(string FileName, IReadOnlyList<string> Arguments)
{
    private const UnixFileMode AnyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>
    /// <list type="bullet">
    /// <item><c>Image</c> set: that executable (an absolute path), with <c>Command</c> as its arguments.</item>
    /// <item><c>Command</c> only: its first element is the program (an absolute path, or a name found on the silo's PATH), the rest its arguments.</item>
    /// <item>Neither: <c>dotnet {ReferenceWorkloadPath}</c>.</item>
    /// </list>
    /// Throws <see cref="InvalidVPodSpecException"/> naming the field and value that cannot work.
    /// </summary>
    public static ProcessCommand Resolve(VPodSpec spec, ProcessRuntimeOptions options)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        Validate(spec);

        var command = spec.Command ?? [];
        var image = spec.Image?.Trim();
        if (!string.IsNullOrEmpty(image))
        {
            if (!Path.IsPathFullyQualified(image))
            {
                throw new InvalidVPodSpecException($"spec.image '{image}' must be the absolute path of an executable file for a process vPod (or empty to run the reference workload).");
            }

            CheckExecutable(image, "spec.image");
            return new ProcessCommand(image, [.. command]);
        }

        if (command.Count > 0)
        {
            var program = command[0];
            if (string.IsNullOrWhiteSpace(program))
            {
                throw new InvalidVPodSpecException("spec.command[0] must name the program to run; got an empty value.");
            }

            string resolved;
            if (program.Contains('/', StringComparison.Ordinal))
            {
                if (!Path.IsPathFullyQualified(program))
                {
                    throw new InvalidVPodSpecException($"spec.command[0] '{program}' must be an absolute path or a program name found on PATH.");
                }

                resolved = program;
            }
            else
            {
                resolved = FindOnPath(program)
                    ?? throw new InvalidVPodSpecException($"spec.command[0] '{program}' was not found on the silo's PATH; give its absolute path.");
            }

            CheckExecutable(resolved, "spec.command[0]");
            return new ProcessCommand(resolved, [.. command.Skip(1)]);
        }

        var workload = Path.GetFullPath(options.ReferenceWorkloadPath);
        if (!File.Exists(workload))
        {
            throw new InvalidVPodSpecException(
                $"The spec gives neither an image nor a command, so the reference workload would run, but '{workload}' does not exist. "
                + $"Build src/Workload next to the silo or set {ProcessRuntimeOptions.SectionName}:{nameof(ProcessRuntimeOptions.ReferenceWorkloadPath)}.");
        }

        return new ProcessCommand(FindDotnet(), [workload]);
    }

    public static bool IsValidEnvironmentName(string? name) =>
        !string.IsNullOrEmpty(name) && name.IndexOfAny(['=', '\0']) < 0;

    /// <summary>The <c>dotnet</c> host: DOTNET_HOST_PATH, the running host when it is dotnet, then PATH and DOTNET_ROOT.</summary>
    public static string FindDotnet()
    {
        var hostPath = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(hostPath) && File.Exists(hostPath))
        {
            return hostPath;
        }

        var processPath = Environment.ProcessPath;
        if (!string.IsNullOrEmpty(processPath) && Path.GetFileNameWithoutExtension(processPath) == "dotnet")
        {
            return processPath;
        }

        if (FindOnPath("dotnet") is { } onPath)
        {
            return onPath;
        }

        var root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (!string.IsNullOrEmpty(root) && File.Exists(Path.Combine(root, "dotnet")))
        {
            return Path.Combine(root, "dotnet");
        }

        return "dotnet";
    }

    public static string? FindOnPath(string program)
    {
        var path = Environment.GetEnvironmentVariable("PATH");
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }

        foreach (var directory in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, program);
            if (Path.IsPathFullyQualified(candidate) && IsExecutableFile(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static void Validate(VPodSpec spec)
    {
        if (spec.DeploymentMethod != DeploymentMethod.Process)
        {
            throw new InvalidVPodSpecException($"spec.deploymentMethod is '{spec.DeploymentMethod.ToString().ToLowerInvariant()}'; the process runtime only runs 'process' vPods.");
        }

        var ports = spec.Ports ?? [];
        for (var i = 0; i < ports.Count; i++)
        {
            if (ports[i] is < 1 or > 65535)
            {
                throw new InvalidVPodSpecException($"spec.ports[{i.ToString(CultureInfo.InvariantCulture)}] must be between 1 and 65535; got '{ports[i].ToString(CultureInfo.InvariantCulture)}'.");
            }
        }

        foreach (var (name, value) in spec.Env ?? new Dictionary<string, string>())
        {
            if (!IsValidEnvironmentName(name))
            {
                throw new InvalidVPodSpecException($"spec.env has an invalid variable name '{name}': names must be non-empty and hold neither '=' nor NUL.");
            }

            if (value is null || value.Contains('\0', StringComparison.Ordinal))
            {
                throw new InvalidVPodSpecException($"spec.env['{name}'] must be a value without NUL characters.");
            }
        }

        var command = spec.Command ?? [];
        for (var i = 0; i < command.Count; i++)
        {
            if (command[i] is null || command[i].Contains('\0', StringComparison.Ordinal))
            {
                throw new InvalidVPodSpecException($"spec.command[{i.ToString(CultureInfo.InvariantCulture)}] must be a value without NUL characters.");
            }
        }

        if (ProcessSpecRules.Unsupported(spec) is { } unsupported)
        {
            throw new InvalidVPodSpecException(unsupported);
        }
    }

    private static void CheckExecutable(string path, string field)
    {
        if (Directory.Exists(path))
        {
            throw new InvalidVPodSpecException($"{field} '{path}' is a directory, not an executable file.");
        }

        if (!File.Exists(path))
        {
            throw new InvalidVPodSpecException($"{field} '{path}' does not exist on this silo's machine.");
        }

        if (!IsExecutableFile(path))
        {
            throw new InvalidVPodSpecException($"{field} '{path}' is not executable (no execute permission).");
        }
    }

    private static bool IsExecutableFile(string path)
    {
        try
        {
            if (OperatingSystem.IsWindows())
            {
                return File.Exists(path);
            }

            return File.Exists(path) && (File.GetUnixFileMode(path) & AnyExecute) != 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
