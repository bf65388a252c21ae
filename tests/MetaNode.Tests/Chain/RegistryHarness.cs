using System.Numerics;
using MetaNode.Chain;
using MetaNode.Grains.Chain;
using MetaNode.Tests.Infrastructure;
using Nethereum.Hex.HexTypes;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Signer;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;

namespace MetaNode.Tests.Chain;

/// <summary>Deploys a ResultRegistry on anvil through Nethereum's own account and transaction manager (not the account grain).</summary>
internal sealed class RegistryHarness
{
    private RegistryHarness(Web3 web3, string address, long chainId, EthECKey[] validators)
    {
        Web3 = web3;
        Address = address;
        ChainId = chainId;
        Validators = validators;
    }

    public Web3 Web3 { get; }

    public string Address { get; }

    public long ChainId { get; }

    public EthECKey[] Validators { get; private set; }

    /// <summary>The registry's current set as finalizeRound calls are built against it (the deployed set until a test rotates).</summary>
    public IReadOnlyList<string> Set { get; set; } = [];

    public RegistryDomain Domain => new(ChainId, Address);

    public string From => Web3.TransactionManager.Account.Address;

    public static async Task<RegistryHarness> DeployAsync(AnvilFixture anvil, int validators, int threshold)
    {
        var sender = await anvil.FundedKeyAsync();
        var web3 = new Web3(new Account(sender, 31337), anvil.RpcUrl);
        web3.TransactionManager.UseLegacyAsDefault = false;
        var keys = Enumerable.Range(0, validators).Select(_ => EthECKey.GenerateKey()).ToArray();
        var data = RegistryClient.EncodeDeploy(RegistryClient.SortValidators(keys.Select(k => k.GetPublicAddress())), threshold);
        var receipt = await SendAsync(web3, null, data, 3_000_000);
        Assert.Equal(1, (int)receipt.Status.Value);
        return new RegistryHarness(web3, receipt.ContractAddress.ToLowerInvariant(), 31337, keys) { Set = RegistryClient.SortValidators(keys.Select(k => k.GetPublicAddress())) };
    }

    public static RoundResult Round(string job, long round) => new()
    {
        JobId = job,
        Round = round,
        ResultHash = HexValues.ToHex(RegistryTypedData.Keccak(System.Text.Encoding.UTF8.GetBytes($"result {job} {round}"))),
        ReceiptsRoot = HexValues.ToHex(RegistryTypedData.Keccak(System.Text.Encoding.UTF8.GetBytes($"receipts {job} {round}"))),
        ModelRef = HexValues.ToHex(RegistryTypedData.Keccak(System.Text.Encoding.UTF8.GetBytes($"model {job} {round}"))),
    };

    public static ValidatorSignature Sign(EthECKey key, byte[] digest) =>
        new(key.GetPublicAddress().ToLowerInvariant(), RegistryTypedData.Sign(EthereumSignatures.PrivateKeyBytes(key.GetPrivateKeyAsBytes()), digest));

    public IReadOnlyList<ValidatorSignature> SignRound(RoundResult round, IEnumerable<EthECKey> keys, RegistryDomain? domain = null) =>
        keys.Select(k => Sign(k, RegistryTypedData.FinalizeDigest(domain ?? Domain, round))).ToArray();

    public string FinalizeData(RoundResult round, IEnumerable<ValidatorSignature> signatures) =>
        RegistryClient.EncodeFinalize(round, signatures, Set);

    /// <summary>A finalizeRound call with <paramref name="modelCid"/> as the binary CID, whatever it holds (no client-side check).</summary>
    public string FinalizeData(RoundResult round, IEnumerable<ValidatorSignature> signatures, byte[] modelCid)
    {
        var sent = signatures.ToArray();
        return FinalizeData(round, sent, modelCid, RegistryFinalizeCalldata.NonSigners(Set, sent));
    }

    /// <summary>A finalizeRound call naming <paramref name="nonSigners"/> as given (in that order), to forge the validator set it carries.</summary>
    public static string FinalizeData(RoundResult round, IEnumerable<ValidatorSignature> signatures, byte[] modelCid, IEnumerable<string> nonSigners) =>
        HexValues.ToHex(RegistryFinalizeCalldata.Pack(round, modelCid, signatures, nonSigners));

    /// <summary>The round naming <paramref name="modelCid"/> (binary), as validators sign it; unchanged for no CID.</summary>
    public static RoundResult WithCid(RoundResult round, byte[] modelCid) =>
        modelCid.Length == 0 ? round : round with { ModelCid = MetaNode.Storage.Cid.Read(modelCid, out _).ToString() };

    /// <summary>A binary CIDv1 built byte by byte: version, codec, multihash code and length, digest.</summary>
    public static byte[] CidBytes(byte codec, string digestHex, byte version = 0x01, byte hash = 0x12, byte length = 0x20) =>
        [version, codec, hash, length, .. HexValues.ParseBytes32(digestHex, "digest")];

    public Task<TransactionReceipt> SendAsync(string data, long gas = 1_000_000) => SendAsync(Web3, Address, data, gas);

    /// <summary>The revert reason from eth_call; then the same call is mined with a fixed gas limit and must fail on chain too.</summary>
    public async Task<string> ExpectRevertAsync(string data)
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => Web3.Eth.Transactions.Call.SendRequestAsync(new CallInput(data, Address, From, new HexBigInteger(1_000_000), new HexBigInteger(0))));
        var reason = RegistryClient.DescribeRevert(exception);
        var receipt = await SendAsync(data, 1_000_000);
        Assert.Equal(0, (int)receipt.Status.Value);
        return reason;
    }

    public static async Task<TransactionReceipt> SendAsync(Web3 web3, string? to, string data, long gas)
    {
        var input = new TransactionInput(data, to, web3.TransactionManager.Account.Address, new HexBigInteger(gas), new HexBigInteger(BigInteger.Zero));
        var hash = await web3.TransactionManager.SendTransactionAsync(input);
        for (var i = 0; i < 200; i++)
        {
            // anvil may answer with the hash before the receipt exists: poll.
            var receipt = await web3.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(hash);
            if (receipt is not null)
            {
                return receipt;
            }

            await Task.Delay(25);
        }

        throw new TimeoutException($"no receipt for {hash}");
    }
}
