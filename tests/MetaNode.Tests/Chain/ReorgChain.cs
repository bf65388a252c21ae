using System.Globalization;
using MetaNode.Chain;
using MetaNode.Grains.Chain;
using MetaNode.Tests.Infrastructure;
using Nethereum.Signer;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;

namespace MetaNode.Tests.Chain;

/// <summary>
/// A private anvil with a ResultRegistry deployed by a test account and validator keys held by the test, so a test can
/// finalize rounds itself, mine blocks one at a time and reorganize the chain (<c>anvil_reorg</c>).
/// </summary>
internal sealed class ReorgChain : IAsyncDisposable
{
    /// <summary>anvil's first dev account: unlocked, so <c>anvil_reorg</c> can include transactions from it by request.</summary>
    public const string DevAccount = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";

    private readonly AnvilNode _node;
    private readonly Web3 _web3;

    private ReorgChain(AnvilNode node, Web3 web3, string registry, EthECKey[] validators)
    {
        _node = node;
        _web3 = web3;
        Registry = registry;
        Validators = validators;
    }

    public string RpcUrl => _node.RpcUrl;

    public string Registry { get; }

    public EthECKey[] Validators { get; }

    public static async Task<ReorgChain> StartAsync()
    {
        var node = new AnvilNode();
        try
        {
            await node.StartAsync();
            var sender = await FundedKeyAsync(node.RpcUrl);
            var web3 = new Web3(new Account(sender, 31337), node.RpcUrl);
            web3.TransactionManager.UseLegacyAsDefault = false;
            var validators = new[] { EthECKey.GenerateKey(), EthECKey.GenerateKey() };
            var data = RegistryClient.EncodeDeploy(RegistryClient.SortValidators(validators.Select(k => k.GetPublicAddress())), 2);
            var receipt = await RegistryHarness.SendAsync(web3, null, data, 3_000_000);
            Assert.Equal(1, (int)receipt.Status.Value);
            return new ReorgChain(node, web3, receipt.ContractAddress.ToLowerInvariant(), validators);
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    /// <summary>A fresh key with 1000 ETH.</summary>
    public static async Task<EthECKey> FundedKeyAsync(string rpcUrl)
    {
        var key = EthECKey.GenerateKey();
        await AnvilNode.RpcAsync(rpcUrl, "anvil_setBalance", key.GetPublicAddress(), "0x3635C9ADC5DEA00000");
        return key;
    }

    /// <summary>Settings for a <see cref="ChainCluster"/> on this chain: the registry configured, the watcher polled only by the test.</summary>
    public Dictionary<string, string?> ClusterSettings(int confirmations) => new()
    {
        ["MetaNode:Chain:RegistryAddress"] = Registry,
        ["MetaNode:Chain:Confirmations"] = confirmations.ToString(CultureInfo.InvariantCulture),
        ["MetaNode:Chain:Watcher:Enabled"] = "false",
    };

    public IReadOnlyList<ValidatorSignature> Sign(RoundResult round) =>
        Validators.Select(k => RegistryHarness.Sign(k, RegistryTypedData.FinalizeDigest(new RegistryDomain(31337, Registry), round))).ToArray();

    public string FinalizeData(RoundResult round) =>
        RegistryClient.EncodeFinalize(round, Sign(round), RegistryClient.SortValidators(Validators.Select(k => k.GetPublicAddress())));

    /// <summary>Finalizes a round from the test account (automine): its transaction hash and block.</summary>
    public async Task<(string Hash, long Block)> FinalizeAsync(RoundResult round)
    {
        var receipt = await RegistryHarness.SendAsync(_web3, Registry, FinalizeData(round), 1_000_000);
        Assert.Equal(1, (int)receipt.Status.Value);
        return (receipt.TransactionHash, (long)receipt.BlockNumber.Value);
    }

    /// <summary>A finalization as a transaction request from <see cref="DevAccount"/>, for <c>anvil_reorg</c>.</summary>
    public object FinalizeRequest(RoundResult round) => new { from = DevAccount, to = Registry, data = FinalizeData(round), gas = "0xf4240" };

    public async Task MineAsync(int blocks = 1)
    {
        for (var i = 0; i < blocks; i++)
        {
            await AnvilNode.RpcAsync(RpcUrl, "evm_mine");
        }
    }

    public async Task<long> HeadAsync() => Hex(await AnvilNode.RpcAsync(RpcUrl, "eth_blockNumber"));

    public async Task<string> BlockHashAsync(long number) =>
        (await AnvilNode.RpcAsync(RpcUrl, "eth_getBlockByNumber", Quantity(number), false)).GetProperty("hash").GetString()!;

    public async Task<string[]> BlockTransactionsAsync(long number) =>
        (await AnvilNode.RpcAsync(RpcUrl, "eth_getBlockByNumber", Quantity(number), false)).GetProperty("transactions").EnumerateArray().Select(t => t.GetString()!).ToArray();

    public async Task<string> RawTransactionAsync(string hash) => (await AnvilNode.RpcAsync(RpcUrl, "eth_getRawTransactionByHash", hash)).GetString()!;

    /// <summary>Replaces the newest <paramref name="depth"/> blocks with as many new ones holding the given transactions (raw hex or requests) at the given offsets.</summary>
    public Task ReorgAsync(int depth, params (object Transaction, int Offset)[] transactions) =>
        AnvilNode.RpcAsync(RpcUrl, "anvil_reorg", depth, transactions.Select(t => new[] { t.Transaction, t.Offset }).ToArray());

    /// <summary>The registry's RoundFinalized logs on the canonical chain, read with raw JSON-RPC.</summary>
    public async Task<IReadOnlyList<(long Round, string EventId, long Block, string BlockHash)>> LogsAsync()
    {
        var logs = await AnvilNode.RpcAsync(RpcUrl, "eth_getLogs", new { address = Registry, fromBlock = "0x0", toBlock = "latest", topics = new[] { RegistryClient.RoundFinalizedTopic } });
        return logs.EnumerateArray()
            .Select(l => (
                Hex(l.GetProperty("topics")[2]),
                $"{l.GetProperty("transactionHash").GetString()}:{Hex(l.GetProperty("logIndex"))}",
                Hex(l.GetProperty("blockNumber")),
                l.GetProperty("blockHash").GetString()!))
            .ToArray();
    }

    public ValueTask DisposeAsync() => _node.DisposeAsync();

    private static string Quantity(long number) => "0x" + number.ToString("x", CultureInfo.InvariantCulture);

    private static long Hex(System.Text.Json.JsonElement value) => Convert.ToInt64(value.GetString(), 16);
}
