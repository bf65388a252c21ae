using System.Diagnostics;
using System.Globalization;
using MetaNode.Grains.Runtime;
using MetaNode.Grains.Runtime.Process;
using MetaNode.VPods;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MetaNode.Bench;

/// <summary>
/// What isolation costs a process vPod: start-to-exit time of a workload running <c>/bin/true</c>, isolated (own uid, cgroup)
/// and not, interleaved in rounds on the same machine. <c>bench isolation [starts per round] [rounds]</c>.
/// </summary>
internal static class IsolationBench
{
    public static async Task RunAsync(string[] args)
    {
        var starts = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var root = Path.Combine(Path.GetTempPath(), "metanode-bench-isolation", Guid.NewGuid().ToString("N")[..8]);
        await using var isolated = Runtime(Path.Combine(root, "isolated"), ProcessIsolationMode.Required);
        await using var plain = Runtime(Path.Combine(root, "plain"), ProcessIsolationMode.Off);
        var spec = new VPodSpec { Name = "bench", Command = ["/bin/true"], RestartPolicy = RestartPolicy.Never };
        await MeasureAsync(isolated, spec, 5);
        await MeasureAsync(plain, spec, 5);
        Console.WriteLine("| round | isolated median (ms) | plain median (ms) | ratio |");
        Console.WriteLine("|---|---:|---:|---:|");
        for (var round = 1; round <= rounds; round++)
        {
            var a = await MeasureAsync(isolated, spec, starts);
            var b = await MeasureAsync(plain, spec, starts);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {round} | {a:0.00} | {b:0.00} | {a / b:0.00} |"));
        }

        Directory.Delete(root, recursive: true);
    }

    private static ProcessRuntime Runtime(string directory, ProcessIsolationMode mode) => new(
        Options.Create(new ProcessRuntimeOptions { DataDirectory = directory, Isolation = new ProcessIsolationOptions { Mode = mode } }),
        NullLogger<ProcessRuntime>.Instance);

    /// <summary>The median milliseconds from StartAsync to the workload seen Exited, over <paramref name="count"/> starts.</summary>
    private static async Task<double> MeasureAsync(ProcessRuntime runtime, VPodSpec spec, int count)
    {
        var times = new List<double>(count);
        for (var i = 0; i < count; i++)
        {
            var id = "vpod-bench-" + i.ToString(CultureInfo.InvariantCulture);
            var started = Stopwatch.GetTimestamp();
            var handle = await runtime.StartAsync(id, spec, null);
            while ((await runtime.InspectAsync(id, handle)).State != WorkloadState.Exited)
            {
                await Task.Delay(1);
            }

            times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        for (var i = 0; i < count; i++)
        {
            await runtime.RemoveAsync("vpod-bench-" + i.ToString(CultureInfo.InvariantCulture), null);
        }

        times.Sort();
        return times[times.Count / 2];
    }
}
