using System.Globalization;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>One reading of <c>/proc/{pid}/stat</c>.</summary>
internal readonly record struct ProcStat(int Pid, char State, int ProcessGroup, long UserTicks, long SystemTicks, long ChildUserTicks, long ChildSystemTicks, long StartTicks)
{
    /// <summary>False for zombies and dead tasks: the program has exited even though its entry is still there.</summary>
    public bool IsAlive => State is not ('Z' or 'X' or 'x');

    /// <summary>CPU time of the process and of the children it has waited for.</summary>
    public long TotalTicks => UserTicks + SystemTicks + ChildUserTicks + ChildSystemTicks;
}

/// <summary>Reads what the runtime needs from <c>/proc</c>.</summary>
internal static class ProcFs
{
    private const string Root = "/proc";

    public static ProcStat? ReadStat(int pid)
    {
        if (pid <= 0)
        {
            return null;
        }

        string text;
        try
        {
            text = File.ReadAllText($"{Root}/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        return ParseStat(text);
    }

    /// <summary>Parses a stat line. The command name (field 2) is in parentheses and may itself hold spaces and parentheses, so fields are counted from the last ')'.</summary>
    public static ProcStat? ParseStat(string text)
    {
        var open = text.IndexOf('(', StringComparison.Ordinal);
        var close = text.LastIndexOf(')');
        if (open <= 0 || close < open || close + 2 >= text.Length)
        {
            return null;
        }

        if (!int.TryParse(text.AsSpan(0, open).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid))
        {
            return null;
        }

        // Fields from 3 (state) on; field n is at index n - 3.
        var fields = text[(close + 2)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 20 || fields[0].Length != 1)
        {
            return null;
        }

        if (!int.TryParse(fields[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var group)
            || !long.TryParse(fields[11], NumberStyles.Integer, CultureInfo.InvariantCulture, out var utime)
            || !long.TryParse(fields[12], NumberStyles.Integer, CultureInfo.InvariantCulture, out var stime)
            || !long.TryParse(fields[13], NumberStyles.Integer, CultureInfo.InvariantCulture, out var cutime)
            || !long.TryParse(fields[14], NumberStyles.Integer, CultureInfo.InvariantCulture, out var cstime)
            || !long.TryParse(fields[19], NumberStyles.Integer, CultureInfo.InvariantCulture, out var start))
        {
            return null;
        }

        return new ProcStat(pid, fields[0][0], group, utime, stime, cutime, cstime, start);
    }

    /// <summary>The live processes of the process group <paramref name="group"/> (the leader included while it lives).</summary>
    public static List<ProcStat> ReadGroup(int group)
    {
        var members = new List<ProcStat>();
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateDirectories(Root);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return members;
        }

        foreach (var entry in entries)
        {
            var name = Path.GetFileName(entry);
            if (name.Length == 0 || !char.IsAsciiDigit(name[0]) || !int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            if (ReadStat(pid) is { } stat && stat.ProcessGroup == group && stat.IsAlive)
            {
                members.Add(stat);
            }
        }

        return members;
    }

    /// <summary>Resident set size from <c>VmRSS</c> in <c>/proc/{pid}/status</c>; 0 when unknown (kernel threads, exited).</summary>
    public static long ReadResidentBytes(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"{Root}/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    var value = line["VmRSS:".Length..].Trim();
                    var space = value.IndexOf(' ', StringComparison.Ordinal);
                    var number = space < 0 ? value : value[..space];
                    return long.TryParse(number, NumberStyles.Integer, CultureInfo.InvariantCulture, out var kib) ? kib * 1024 : 0;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }

        return 0;
    }

    /// <summary>Received and sent bytes summed over the non-loopback interfaces of the network namespace <paramref name="pid"/> lives in.</summary>
    public static (long Rx, long Tx) ReadNetworkBytes(int pid)
    {
        try
        {
            return ParseNetDev(File.ReadAllLines($"{Root}/{pid.ToString(CultureInfo.InvariantCulture)}/net/dev"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (0, 0);
        }
    }

    /// <summary>Parses <c>net/dev</c>: two header lines, then <c>iface: rx_bytes rx_packets … (8 rx fields) tx_bytes …</c>.</summary>
    public static (long Rx, long Tx) ParseNetDev(IEnumerable<string> lines)
    {
        long rx = 0;
        long tx = 0;
        foreach (var line in lines)
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var name = line[..colon].Trim();
            if (name == "lo")
            {
                continue;
            }

            var fields = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 9
                && long.TryParse(fields[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var r)
                && long.TryParse(fields[8], NumberStyles.Integer, CultureInfo.InvariantCulture, out var t))
            {
                rx += r;
                tx += t;
            }
        }

        return (rx, tx);
    }

    /// <summary>
    /// Identifies this machine and boot: <c>{machine-id}/{boot-id}</c>. Pids and start ticks only mean something within one boot,
    /// so a handle from another machine or an earlier boot never matches a live process here.
    /// </summary>
    public static string ReadNodeId()
    {
        var machine = ReadFirstLine("/etc/machine-id") ?? ReadFirstLine("/var/lib/dbus/machine-id") ?? Environment.MachineName;
        var boot = ReadFirstLine($"{Root}/sys/kernel/random/boot_id");
        return boot is null ? machine : $"{machine}/{boot}";
    }

    private static string? ReadFirstLine(string path)
    {
        try
        {
            var text = File.ReadAllText(path).Trim();
            return text.Length == 0 ? null : text;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
