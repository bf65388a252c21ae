using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Nethereum.KeyStore;
using Nethereum.KeyStore.Model;
using Nethereum.Signer;

namespace MetaNode.Grains.Chain;

/// <summary>A vPod's key as stored: its address and the encrypted Web3 keystore JSON (scrypt + AES-128-CTR).</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Chain.VPodKey")]
public sealed record VPodKey([property: Id(0)] string Address, [property: Id(1)] string KeystoreJson);

/// <summary>
/// Creates and unlocks vPod keys. Each compute and validator vPod gets its own secp256k1 key at create; the grain keeps
/// only the encrypted keystore in its state, so any silo with the password can sign for it. The password comes from
/// <c>MetaNode:Chain:KeystorePassword</c>; without one, a random password is generated once into the data directory.
/// </summary>
public sealed partial class VPodKeyService
{
    public const string PasswordFileName = "vpod-keys.password";

    private readonly ConcurrentDictionary<string, EthECKey> _unlocked = new(StringComparer.Ordinal);
    private readonly ChainOptions _options;
    private readonly ILogger<VPodKeyService> _logger;
    private readonly Lazy<string> _password;

    public VPodKeyService(IOptions<ChainOptions> options, ILogger<VPodKeyService> logger)
    {
        _options = options.Value;
        _logger = logger;
        _password = new Lazy<string>(ResolvePassword, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public VPodKey Create()
    {
        var key = EthECKey.GenerateKey();
        var address = key.GetPublicAddress().ToLowerInvariant();
        var scrypt = new ScryptParams { Dklen = 32, N = _options.VPodKeyScryptN, R = 8, P = 1 };
        var json = new KeyStoreScryptService().EncryptAndGenerateKeyStoreAsJson(_password.Value, key.GetPrivateKeyAsBytes(), address, scrypt);
        _unlocked[address] = key;
        return new VPodKey(address, json);
    }

    /// <summary>The vPod's signing key, decrypted once per silo and kept in memory.</summary>
    public EthECKey Unlock(VPodKey stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        return _unlocked.GetOrAdd(stored.Address, static (_, state) =>
        {
            var (json, password) = state;
            return new EthECKey(new KeyStoreService().DecryptKeyStoreFromJson(password, json), true);
        }, (stored.KeystoreJson, _password.Value));
    }

    private string ResolvePassword()
    {
        if (!string.IsNullOrEmpty(_options.KeystorePassword))
        {
            return _options.KeystorePassword;
        }

        var directory = Path.Combine(_options.DataDirectory ?? ".metanode", "keystore");
        var file = Path.Combine(directory, PasswordFileName);
        if (File.Exists(file))
        {
            return File.ReadAllText(file).Trim();
        }

        Directory.CreateDirectory(directory);
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
        try
        {
            using var stream = new FileStream(file, FileMode.CreateNew, FileAccess.Write);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(stream.SafeFileHandle, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            using var writer = new StreamWriter(stream);
            writer.Write(password);
        }
        catch (IOException) when (File.Exists(file))
        {
            // Another silo sharing the data directory wrote it first.
            return File.ReadAllText(file).Trim();
        }

        LogGeneratedPassword(_logger, file);
        return password;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No MetaNode:Chain:KeystorePassword is set: vPod keys are encrypted with a random password generated into {File}. Set the password (a secret) so every silo of a cluster can unlock vPod keys")]
    private static partial void LogGeneratedPassword(ILogger logger, string file);
}
