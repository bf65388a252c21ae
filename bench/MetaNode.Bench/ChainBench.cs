using System.Diagnostics;
using System.Globalization;
using MetaNode.Chain;
using MetaNode.VPods;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Signer;

namespace MetaNode.Bench;

/// <summary>
/// <c>chain [N]</c>: on a fresh anvil (the repository's pinned npm package) and one in-process silo, measures the gas of
/// one finalization for k = 2, 3, 5 (validator vPods signing with their own keys) and the submit→confirmed latency of N
/// finalizations in a row (p50/p99), both as the account grain measures it and end to end (signing included).
/// </summary>
internal static class ChainBench
{
    public static async Task RunAsync(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50;
        using var anvil = await BenchAnvil.StartAsync();
        var rpcUrl = anvil.RpcUrl;
        var dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-bench-chain", Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var operatorKey = EthECKey.GenerateKey();
            await anvil.FundAsync(operatorKey.GetPublicAddress());
            await using var cluster = await BenchHost.StartSiloAsync(dataDirectory, new Dictionary<string, string?>
            {
                ["MetaNode:Chain:RpcUrl"] = rpcUrl,
                ["MetaNode:Chain:AccountPrivateKey"] = operatorKey.GetPrivateKeyAsBytes().ToHex(prefix: true),
                ["MetaNode:Chain:ReceiptPollInterval"] = "00:00:00.010",
                ["MetaNode:Chain:Watcher:Enabled"] = "false",
            });
            var grains = cluster.Client;
            var chain = grains.GetGrain<IChainGrain>(ChainKeys.Default);

            var validators = new List<(string Id, string Address)>();
            for (var i = 0; i < 5; i++)
            {
                var id = $"vpod-bench{i:D4}";
                var status = await grains.GetGrain<IVPodGrain>(id).CreateAsync(new VPodSpec { Name = $"bench-validator-{i}", Type = VPodType.Validator, Command = ["/bin/sh", "-c", "exec sleep 600"], RestartPolicy = RestartPolicy.Never });
                validators.Add((id, status.Address!));
            }

            Console.WriteLine("| k | validators | gas per finalizeRound | target 60k + 8k·k |");
            Console.WriteLine("|---:|---:|---:|---:|");
            foreach (var k in new[] { 2, 3, 5 })
            {
                var set = validators.Take(k).ToArray();
                await chain.DeployRegistryAsync(new DeployRegistryCommand { Validators = set.Select(v => v.Address).ToArray(), Threshold = k });
                var result = await chain.FinalizeRoundAsync(new FinalizeRoundCommand { Round = Round($"bench-gas-{k}", 1), SignerVPodIds = set.Select(v => v.Id).ToArray() });
                Console.WriteLine(FormattableString.Invariant($"| {k} | {k} | {result.GasUsed:N0} | {60_000 + (8_000 * k):N0} |"));
            }

            // Latency with k = 2 of 3.
            await chain.DeployRegistryAsync(new DeployRegistryCommand { Validators = validators.Take(3).Select(v => v.Address).ToArray(), Threshold = 2 });
            await chain.FinalizeRoundAsync(new FinalizeRoundCommand { Round = Round("bench-warmup", 0) });
            var confirmed = new List<double>();
            var endToEnd = new List<double>();
            for (var round = 1; round <= count; round++)
            {
                var start = Stopwatch.GetTimestamp();
                var result = await chain.FinalizeRoundAsync(new FinalizeRoundCommand { Round = Round("bench-latency", round) });
                endToEnd.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                confirmed.Add(result.Latency!.Value.TotalMilliseconds);
            }

            Console.WriteLine();
            Console.WriteLine(FormattableString.Invariant($"{count} finalizations in a row, k = 2 of 3, anvil automine, 1 confirmation"));
            Console.WriteLine("| measure | p50 ms | p99 ms | max ms |");
            Console.WriteLine("|---|---:|---:|---:|");
            Console.WriteLine(Row("submit → confirmed (account grain: first send to confirmation)", confirmed));
            Console.WriteLine(Row("finalize call end to end (signing by 2 vPods, checks, submit, confirm, read back)", endToEnd));
            await cluster.StopAllSilosAsync();
        }
        finally
        {
            BenchHost.DeleteDirectory(dataDirectory);
        }
    }

    private static RoundResult Round(string job, long round)
    {
        string Hash(string what) => "0x" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{what} {job} {round}")));
        return new RoundResult { JobId = job, Round = round, ResultHash = Hash("result"), ReceiptsRoot = Hash("receipts"), ModelRef = Hash("model") };
    }

    private static string Row(string name, List<double> values)
    {
        var sorted = values.Order().ToArray();
        double P(double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        return FormattableString.Invariant($"| {name} | {P(0.50):F1} | {P(0.99):F1} | {sorted[^1]:F1} |");
    }
}
