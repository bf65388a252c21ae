using MetaNode.Chain;
using MetaNode.Grains.Chain;
using MetaNode.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace MetaNode.Tests.Chain;

public sealed class ChainOptionsTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void Defaults_AreValid_AndLeaveTheChainToTheDevChain()
    {
        Assert.True(new ChainOptionsValidator().Validate(null, new ChainOptions()).Succeeded);
        Assert.Null(new ChainOptions().RpcUrl);
    }

    [Fact]
    public void BadValues_AreAllReported_WithKeyAndValue_ButNeverTheSecret()
    {
        const string secret = "0xnot-a-key-but-secret-anyway";
        var error = Assert.Throws<OptionsValidationException>(() => Config(
            ("MetaNode:Chain:RpcUrl", "ftp://node"),
            ("MetaNode:Chain:RegistryAddress", "0x1234"),
            ("MetaNode:Chain:Confirmations", "0"),
            ("MetaNode:Chain:MaxGasPerTransaction", "100"),
            ("MetaNode:Chain:Watcher:ReorgHistory", "0"),
            ("MetaNode:Chain:AccountPrivateKey", secret),
            ("MetaNode:Chain:KeystorePassword", "hunter2")).ReadMetaNodeOptions());
        Assert.Contains(error.Failures, f => f.Contains("MetaNode:Chain:RpcUrl", StringComparison.Ordinal) && f.Contains("'ftp://node'", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("MetaNode:Chain:RegistryAddress", StringComparison.Ordinal) && f.Contains("'0x1234'", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("MetaNode:Chain:Confirmations", StringComparison.Ordinal) && f.Contains("'0'", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("MetaNode:Chain:MaxGasPerTransaction", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("MetaNode:Chain:Watcher:ReorgHistory", StringComparison.Ordinal) && f.Contains("'0'", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("MetaNode:Chain:AccountPrivateKey", StringComparison.Ordinal));
        Assert.DoesNotContain(error.Failures, f => f.Contains(secret, StringComparison.Ordinal) || f.Contains("hunter2", StringComparison.Ordinal));
    }

    [Fact]
    public void Secrets_AreRedacted()
    {
        foreach (var name in new[] { nameof(ChainOptions.AccountPrivateKey), nameof(ChainOptions.KeystorePassword) })
        {
            Assert.NotNull(typeof(ChainOptions).GetProperty(name)!.GetCustomAttributes(typeof(RedactAttribute), inherit: false).SingleOrDefault());
        }
    }

    [Theory]
    [InlineData("job-1", true)]
    [InlineData("a-job-id-that-is-exactly-32-byte", true)]
    [InlineData("a-job-id-that-is-longer-than-32-bytes", false)]
    [InlineData("", false)]
    public void JobIds_FitInABytes32(string job, bool valid)
    {
        if (valid)
        {
            Assert.Equal(job, HexValues.JobIdFromBytes32(HexValues.JobIdToBytes32(job)));
        }
        else
        {
            Assert.Throws<InvalidChainRequestException>(() => HexValues.JobIdToBytes32(job));
        }
    }

    [Fact]
    public void LowestSigners_TakesTheKLowestAddressesOncePerSigner_InAddressOrder()
    {
        // Addresses compare as numbers: 0x0a… is below 0x9f…, and a mixed-case copy of a signer is the same signer.
        ValidatorSignature Sig(string signer, string tag) => new(signer, "0x" + tag, null);
        var high = Sig("0x9f00000000000000000000000000000000000001", "01");
        var low = Sig("0x0a00000000000000000000000000000000000002", "02");
        var middle = Sig("0x5B00000000000000000000000000000000000003", "03");
        var middleAgain = Sig("0x5b00000000000000000000000000000000000003", "04");

        Assert.Equal([low, middle], RegistryTypedData.LowestSigners([high, middle, low, middleAgain], 2));
        Assert.Equal([low, middle, high], RegistryTypedData.LowestSigners([high, middle, low], 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => RegistryTypedData.LowestSigners([high], 0));
    }

    [Fact]
    public void Signatures_ArePackedBySignerAddress()
    {
        var keys = Enumerable.Range(0, 4).Select(_ => Nethereum.Signer.EthECKey.GenerateKey()).ToArray();
        var digest = RegistryTypedData.Keccak("digest"u8.ToArray());
        var signatures = keys.Select(k => new ValidatorSignature(k.GetPublicAddress().ToLowerInvariant(), RegistryTypedData.Sign(EthereumSignatures.PrivateKeyBytes(k.GetPrivateKeyAsBytes()), digest))).ToArray();
        var packed = RegistryTypedData.PackSorted(signatures.Reverse());
        Assert.Equal(4 * 65, packed.Length);
        var signers = Enumerable.Range(0, 4).Select(i => RegistryTypedData.Recover(digest, HexValues.ToHex(packed[(i * 65)..((i + 1) * 65)]))).ToArray();
        Assert.Equal(RegistryClient.SortValidators(signers), signers);
    }

    [Fact]
    public void ReceiptPolling_LooksAgainAfter5Ms_ThenDoubles_UpToTheInterval()
    {
        var interval = TimeSpan.FromMilliseconds(200);
        Assert.Equal([5, 10, 20, 40, 80, 160, 200, 200], Enumerable.Range(0, 8).Select(p => ReceiptPolling.Delay(p, interval).TotalMilliseconds));
        Assert.Equal(interval, ReceiptPolling.Delay(int.MaxValue, interval));
        Assert.Equal(TimeSpan.FromMilliseconds(2), ReceiptPolling.Delay(0, TimeSpan.FromMilliseconds(2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReceiptPolling.Delay(-1, interval));
    }
}
