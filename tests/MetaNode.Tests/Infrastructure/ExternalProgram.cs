using System.Diagnostics;

namespace MetaNode.Tests.Infrastructure;

/// <summary>Runs a program the tests compare against (node, npm, kubectl, Debian's python3) and collects its exit code and output.</summary>
public static class ExternalProgram
{
    /// <summary>
    /// Runs <paramref name="program"/> to its end (killed, with <see cref="TimeoutException"/>, after <paramref name="timeout"/>);
    /// a program that is not installed fails with <paramref name="missingMessage"/>.
    /// </summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(
        string program, IReadOnlyList<string> arguments, string workingDirectory, string missingMessage, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {program}");
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            throw new InvalidOperationException($"{missingMessage}: {exception.Message}", exception);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var deadline = new CancellationTokenSource(timeout);
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish within {timeout}");
            }

            return (process.ExitCode, await stdout, await stderr);
        }
    }
}
