using System.Diagnostics;
using System.Globalization;
using MetaNode.Chain;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Signer;

namespace MetaNode.Bench;

/// <summary>
/// <c>chain [N]</c>: on a fresh anvil (the repository's pinned npm package) and one in-process silo's account grain, measures
/// the gas of one finalization for k = 2, 3, 5; at threshold 2 of 3, every agreeing signature against exactly k, side by side;
/// and the submit→confirmed latency of N finalizations in a row (p50/p99), as the account grain measures it and end to end.
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
            var account = grains.GetGrain<IChainAccountGrain>(operatorKey.GetPublicAddress().ToLowerInvariant());

            // Validators sign inside their vPods in a job; here the bench holds five validator keys itself, so any round can be
            // signed, and submits through the silo's account grain (nonce, fees, persist-before-send, confirmation) as a job does.
            var keys = Enumerable.Range(0, 5).Select(_ => EthECKey.GenerateKey()).ToArray();

            Console.WriteLine("| k | validators | gas per finalizeRound | target 60k + 8k·k |");
            Console.WriteLine("|---:|---:|---:|---:|");
            foreach (var k in new[] { 2, 3, 5 })
            {
                var registry = await DeployAsync(account, keys.Take(k), k);
                var result = await account.FinalizeRoundAsync(registry, Round($"bench-gas-{k}", 1), Sign(registry, Round($"bench-gas-{k}", 1), keys.Take(k)));
                Console.WriteLine(FormattableString.Invariant($"| {k} | {k} | {result.GasUsed:N0} | {60_000 + (8_000 * k):N0} |"));
            }

            // Side by side, threshold 2 of 3 with all three agreeing: every agreeing signature sent (as jobs did) against exactly k
            // (what a job sends now: the k lowest signer addresses).
            var twoOfThree = await DeployAsync(account, keys.Take(3), 2);
            var all = await account.FinalizeRoundAsync(twoOfThree, Round("bench-all-agreeing", 1), Sign(twoOfThree, Round("bench-all-agreeing", 1), keys.Take(3)));
            var exact = await account.FinalizeRoundWithThresholdAsync(twoOfThree, Round("bench-exactly-k", 1), Sign(twoOfThree, Round("bench-exactly-k", 1), keys.Take(3)));
            Console.WriteLine();
            Console.WriteLine("| threshold 2 of 3, all agree | signatures sent | gas per finalizeRound | target |");
            Console.WriteLine("|---|---:|---:|---:|");
            Console.WriteLine(FormattableString.Invariant($"| every agreeing signature | {all.Signers.Count} | {all.GasUsed:N0} | |"));
            Console.WriteLine(FormattableString.Invariant($"| exactly k (a job now) | {exact.Signers.Count} | {exact.GasUsed:N0} | 62,000 |"));
            Console.WriteLine(FormattableString.Invariant($"| ratio | | {(double)exact.GasUsed!.Value / all.GasUsed!.Value:F3} | |"));

            // Latency with k = 2 of 3.
            await account.FinalizeRoundWithThresholdAsync(twoOfThree, Round("bench-warmup", 0), Sign(twoOfThree, Round("bench-warmup", 0), keys.Take(3)));
            var confirmed = new List<double>();
            var endToEnd = new List<double>();
            for (var round = 1; round <= count; round++)
            {
                var start = Stopwatch.GetTimestamp();
                var record = Round("bench-latency", round);
                var result = await account.FinalizeRoundWithThresholdAsync(twoOfThree, record, Sign(twoOfThree, record, keys.Take(3)));
                endToEnd.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                confirmed.Add(result.Latency!.Value.TotalMilliseconds);
            }

            Console.WriteLine();
            Console.WriteLine(FormattableString.Invariant($"{count} finalizations in a row, k = 2 of 3, anvil automine, 1 confirmation"));
            Console.WriteLine("| measure | p50 ms | p99 ms | max ms |");
            Console.WriteLine("|---|---:|---:|---:|");
            Console.WriteLine(Row("submit → confirmed (account grain: first send to confirmation)", confirmed));
            Console.WriteLine(Row("finalize call end to end (signing by 3 keys, threshold read, submit, confirm, read back)", endToEnd));
            await cluster.StopAllSilosAsync();
        }
        finally
        {
            BenchHost.DeleteDirectory(dataDirectory);
        }
    }

    private static async Task<string> DeployAsync(IChainAccountGrain account, IEnumerable<EthECKey> validators, int threshold)
    {
        var receipt = await account.DeployRegistryAsync(validators.Select(k => k.GetPublicAddress().ToLowerInvariant()).ToArray(), threshold);
        return receipt.ContractAddress ?? throw new InvalidOperationException($"the registry deployment {receipt.TransactionHash} made no contract");
    }

    private static ValidatorSignature[] Sign(string registry, RoundResult round, IEnumerable<EthECKey> keys)
    {
        var digest = RegistryTypedData.FinalizeDigest(new RegistryDomain(BenchAnvil.ChainId, registry), round);
        return keys.Select(k => new ValidatorSignature(k.GetPublicAddress().ToLowerInvariant(), RegistryTypedData.Sign(k.GetPrivateKeyAsBytes(), digest))).ToArray();
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
