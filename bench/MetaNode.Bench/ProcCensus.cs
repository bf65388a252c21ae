using System.Globalization;

namespace MetaNode.Bench;

/// <summary>What <c>/proc</c> says about a silo process and about the workload processes of process vPods.</summary>
internal static class ProcCensus
{
    /// <summary>A silo's resident set, thread count, open descriptors and sockets.</summary>
    internal readonly record struct SiloSample(long RssBytes, int Threads, int Descriptors, int Sockets)
    {
        public double RssMiB => RssBytes / 1048576.0;
    }

    /// <summary>One live workload process: its vPod and the nearest ancestor among <c>owners</c> (0 when none).</summary>
    internal readonly record struct Workload(int Pid, string VPodId, int Owner);

    public static SiloSample Sample(int pid)
    {
        long rss = 0;
        var threads = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
            else if (line.StartsWith("Threads:", StringComparison.Ordinal))
            {
                threads = int.Parse(line.Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }

        var descriptors = 0;
        var sockets = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            descriptors++;
            try
            {
                if (new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true)
                {
                    sockets++;
                }
            }
            catch (IOException)
            {
                // Closed meanwhile.
            }
        }

        return new SiloSample(rss, threads, descriptors, sockets);
    }

    /// <summary>
    /// The live (not zombie) processes carrying <c>METANODE_VPOD_ID</c> whose working directory lies under <paramref name="root"/>,
    /// each with the nearest of <paramref name="owners"/> among its ancestors.
    /// </summary>
    public static List<Workload> Workloads(string root, IReadOnlyCollection<int> owners)
    {
        var prefix = Path.GetFullPath(root).TrimEnd('/');
        var found = new List<Workload>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var cwd = new DirectoryInfo(Path.Combine(entry, "cwd")).LinkTarget;
                if (cwd is null || !cwd.StartsWith(prefix, StringComparison.Ordinal) || Stat(pid) is not { State: not 'Z' })
                {
                    continue;
                }

                var id = File.ReadAllText(Path.Combine(entry, "environ")).Split('\0')
                    .FirstOrDefault(v => v.StartsWith("METANODE_VPOD_ID=", StringComparison.Ordinal))?["METANODE_VPOD_ID=".Length..];
                if (id is not null)
                {
                    found.Add(new Workload(pid, id, OwnerOf(pid, owners)));
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                // Ended meanwhile.
            }
        }

        return found;
    }

    /// <summary>The CPU time (user and system) a process has used so far; zero once it has ended.</summary>
    public static TimeSpan CpuTime(int pid) =>
        // Fields 14 and 15 (utime, stime), counted from the state (field 3), in clock ticks of 1/100 s.
        StatFields(pid) is { } fields
            ? TimeSpan.FromMilliseconds((long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 10)
            : TimeSpan.Zero;

    private static int OwnerOf(int pid, IReadOnlyCollection<int> owners)
    {
        for (var depth = 0; depth < 8 && pid > 1; depth++)
        {
            if (Stat(pid) is not { } stat)
            {
                return 0;
            }

            if (owners.Contains(stat.Parent))
            {
                return stat.Parent;
            }

            pid = stat.Parent;
        }

        return 0;
    }

    private static (char State, int Parent)? Stat(int pid) =>
        StatFields(pid) is { } fields ? (fields[0][0], int.Parse(fields[1], CultureInfo.InvariantCulture)) : null;

    /// <summary>The fields of <c>/proc/{pid}/stat</c> after the command name, from the state on; null once the process has gone.</summary>
    private static string[]? StatFields(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            return text[(text.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
