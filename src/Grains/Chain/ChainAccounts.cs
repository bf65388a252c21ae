using System.Collections.Concurrent;
using MetaNode.Chain;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.KeyStore;
using Nethereum.Signer;

namespace MetaNode.Grains.Chain;

/// <summary>
/// The signing keys this silo holds for chain accounts: the operator (from <c>MetaNode:Chain:AccountPrivateKey</c>, a
/// keystore folder, or the dev chain's funded account). Keys never leave this object except to sign; nothing here logs one.
/// </summary>
public sealed partial class ChainAccounts
{
    private readonly ConcurrentDictionary<string, EthECKey> _keys = new(StringComparer.Ordinal);
    private readonly ChainOptions _options;
    private readonly ILogger<ChainAccounts> _logger;
    private readonly object _gate = new();
    private bool _loaded;
    private string? _operator;

    public ChainAccounts(IOptions<ChainOptions> options, ILogger<ChainAccounts> logger)
    {
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>The operator's address (lower case), or null when no key is configured.</summary>
    public string? OperatorAddress
    {
        get
        {
            EnsureLoaded();
            return _operator;
        }
    }

    /// <summary>Makes <paramref name="key"/> the operator unless one is configured (the dev chain's funded account).</summary>
    public void UseDevOperator(EthECKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        EnsureLoaded();
        var address = key.GetPublicAddress().ToLowerInvariant();
        _keys.TryAdd(address, key);
        lock (_gate)
        {
            _operator ??= address;
        }
    }

    public EthECKey GetKey(string address)
    {
        EnsureLoaded();
        return _keys.TryGetValue(address.ToLowerInvariant(), out var key)
            ? key
            : throw new ChainUnavailableException($"this silo holds no key for account {address}: configure MetaNode:Chain:AccountPrivateKey or a keystore in MetaNode:Chain:KeystoreDirectory.");
    }

    private void EnsureLoaded()
    {
        if (_loaded)
        {
            return;
        }

        lock (_gate)
        {
            if (_loaded)
            {
                return;
            }

            if (!string.IsNullOrWhiteSpace(_options.AccountPrivateKey))
            {
                var key = new EthECKey(_options.AccountPrivateKey.HexToByteArray(), true);
                var address = key.GetPublicAddress().ToLowerInvariant();
                _keys[address] = key;
                _operator = address;
                LogOperator(_logger, address, "MetaNode:Chain:AccountPrivateKey");
            }

            if (!string.IsNullOrWhiteSpace(_options.KeystoreDirectory) && Directory.Exists(_options.KeystoreDirectory))
            {
                LoadKeystores(_options.KeystoreDirectory);
            }

            _loaded = true;
        }
    }

    private void LoadKeystores(string directory)
    {
        if (string.IsNullOrEmpty(_options.KeystorePassword))
        {
            throw new ChainUnavailableException($"MetaNode:Chain:KeystoreDirectory '{directory}' needs MetaNode:Chain:KeystorePassword to unlock its keys.");
        }

        var service = new KeyStoreService();
        foreach (var file in Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
        {
            string address;
            try
            {
                var json = File.ReadAllText(file);
                address = ("0x" + service.GetAddressFromKeyStore(json).Replace("0x", string.Empty, StringComparison.OrdinalIgnoreCase)).ToLowerInvariant();
                if (!string.IsNullOrEmpty(_options.Account) && !string.Equals(address, _options.Account, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                _keys[address] = new EthECKey(service.DecryptKeyStoreFromJson(_options.KeystorePassword, json), true);
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                // The message names the file, never the key or the password.
                LogKeystoreUnreadable(_logger, file, exception.GetType().Name);
                continue;
            }

            if (_operator is null)
            {
                _operator = address;
                LogOperator(_logger, address, file);
            }
        }
    }
}
