using System.Runtime.InteropServices;

namespace MetaNode.Grains.Runtime.Process;

/// <summary>The few libc calls the runtime needs: <c>System.Diagnostics.Process.Kill</c> only sends SIGKILL.</summary>
internal static class NativeMethods
{
    public const int SigKill = 9;
    public const int SigTerm = 15;

    private const int Esrch = 3;
    private const int ScClkTck = 2;

    /// <summary>Sends <paramref name="signal"/> to a process (positive id) or a process group (negative id). False when no such process or group exists.</summary>
    public static bool SendSignal(int pidOrNegativeGroup, int signal)
    {
        if (kill(pidOrNegativeGroup, signal) == 0)
        {
            return true;
        }

        var errno = Marshal.GetLastPInvokeError();
        if (errno == Esrch)
        {
            return false;
        }

        throw new InvalidOperationException($"kill({pidOrNegativeGroup}, {signal}) failed with errno {errno}: {Marshal.GetPInvokeErrorMessage(errno)}.");
    }

    /// <summary>Gives <paramref name="path"/> (itself, never what a link points at) to <paramref name="uid"/>:<paramref name="gid"/>.</summary>
    public static void ChangeOwner(string path, uint uid, uint gid)
    {
        if (lchown(path, uid, gid) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"lchown({path}, {uid}, {gid}) failed with errno {errno}: {Marshal.GetPInvokeErrorMessage(errno)}.");
        }
    }

    /// <summary>Clock ticks per second, the unit of the times in <c>/proc/{pid}/stat</c>.</summary>
    public static long ClockTicksPerSecond()
    {
        try
        {
            var ticks = sysconf(ScClkTck);
            return ticks > 0 ? ticks : 100;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return 100;
        }
    }

#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code in the project; both signatures are blittable.
    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    [DllImport("libc", SetLastError = true)]
    private static extern long sysconf(int name);

    [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int lchown(string path, uint owner, uint group);
#pragma warning restore SYSLIB1054
}
