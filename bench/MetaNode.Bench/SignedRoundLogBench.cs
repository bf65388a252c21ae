using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MetaNode.Workload.Keys;
using MetaNode.Workloads;

namespace MetaNode.Bench;

/// <summary>
/// A validator's equivocation guard after it has signed N rounds: recording the next round through a log object made for the call
/// (it reads and parses the whole file, as every round did before the log kept its index) against one kept for the process (it
/// reads what was appended since), alternating, on the same file. Both flush to disk on every record.
/// </summary>
internal static class SignedRoundLogBench
{
    public static void Run(string[] args)
    {
        var sizes = args.Length > 0 ? args[0].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() : [100, 1_000, 10_000];
        var records = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100;
        Console.WriteLine($"signed-round log: {records} new rounds recorded after N signed ones, a log object per round against one kept; ms per round (median, p99)");
        Console.WriteLine("| N signed | per round, read whole | per round, kept | ratio kept / whole |");
        Console.WriteLine("|---:|---:|---:|---:|");
        foreach (var size in sizes)
        {
            var directory = Directory.CreateTempSubdirectory("metanode-bench-signed-").FullName;
            try
            {
                using (var file = File.CreateText(Path.Combine(directory, WorkloadProtocol.SignedRoundsFileName)))
                {
                    for (var round = 0; round < size; round++)
                    {
                        file.Write(JsonSerializer.Serialize(Record("history", round), WorkloadJson.Default.SignedRoundRecord));
                        file.Write('\n');
                    }
                }

                var kept = new SignedRoundLog(directory);
                kept.TryRecord(Record("warm-up", 0)); // the kept log reads the history once, as a validator does at its first round
                new SignedRoundLog(directory).TryRecord(Record("warm-up", 1));
                var whole = new List<double>();
                var appended = new List<double>();
                for (var i = 0; i < records; i++)
                {
                    whole.Add(Time(() => new SignedRoundLog(directory).TryRecord(Record("whole", i))));
                    appended.Add(Time(() => kept.TryRecord(Record("kept", i))));
                }

                whole.Sort();
                appended.Sort();
                Console.WriteLine(FormattableString.Invariant(
                    $"| {size:N0} | {Median(whole):F2} (p99 {P99(whole):F2}) | {Median(appended):F2} (p99 {P99(appended):F2}) | {Median(appended) / Median(whole):F3} |"));
            }
            finally
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private static SignedRoundRecord Record(string job, int round) =>
        new(31337, "0x5fbdb2315678afecb367f032d93f642f64180aa3", job, round, "0x" + Convert.ToHexStringLower(BitConverter.GetBytes(round)).PadLeft(64, '0'));

    private static double Time(Action action)
    {
        var watch = Stopwatch.StartNew();
        action();
        return watch.Elapsed.TotalMilliseconds;
    }

    private static double Median(List<double> sorted) => sorted[sorted.Count / 2];

    private static double P99(List<double> sorted) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(sorted.Count * 0.99) - 1)];
}
