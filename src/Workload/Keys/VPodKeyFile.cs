using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using MetaNode.Chain;
using MetaNode.Workloads;

namespace MetaNode.Workload.Keys;

/// <summary>The key file cannot be used (unreadable, not the format, or an address that is not its key's); the workload stops.</summary>
public sealed class InvalidVPodKeyException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// <c>{keyDir}/vpod-key.json</c>: <c>{"address": "0x…", "privateKey": "0x…"}</c>, lower-case hex, mode 0600 in a 0700 directory.
/// The first start creates it (a random scalar, written to a temporary file, flushed to disk and renamed into place); every later start
/// loads it, so the vPod keeps its address across restarts. A file that does not hold a consistent key stops the workload: a vPod
/// never silently takes a new identity.
/// </summary>
public static class VPodKeyFile
{
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode KeyFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static string PathIn(string keyDirectory) => Path.Combine(keyDirectory, WorkloadProtocol.KeyFileName);

    /// <summary>Loads the key, or creates it when the directory holds none; <paramref name="created"/> says which.</summary>
    public static VPodKey LoadOrCreate(string keyDirectory, out bool created)
    {
        ArgumentException.ThrowIfNullOrEmpty(keyDirectory);
        var path = PathIn(keyDirectory);
        if (File.Exists(path))
        {
            created = false;
            return Load(path);
        }

        try
        {
            CreateDirectory(keyDirectory);
            var key = Generate();
            created = WriteNew(path, key);
            return created ? key : Load(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidVPodKeyException($"Cannot create the vPod key in '{keyDirectory}' ({WorkloadProtocol.KeyDirectoryVariable}): {ex.Message}", ex);
        }
    }

    /// <summary>Reads and checks a key file; throws <see cref="InvalidVPodKeyException"/> naming the file and what is wrong.</summary>
    public static VPodKey Load(string path)
    {
        KeyDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(File.ReadAllBytes(path), KeyFileJson.Default.KeyDocument);
        }
        catch (JsonException ex)
        {
            throw new InvalidVPodKeyException($"The vPod key file '{path}' is not valid JSON ({ex.Message}); restore it from a backup — a new key would give the vPod a new address.", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidVPodKeyException($"The vPod key file '{path}' cannot be read: {ex.Message}", ex);
        }

        if (document?.PrivateKey is not { } privateKeyText || !HexValues.IsHex(privateKeyText, EthereumSignatures.PrivateKeyLength) || !privateKeyText.StartsWith("0x", StringComparison.Ordinal))
        {
            throw new InvalidVPodKeyException($"The vPod key file '{path}' has no \"privateKey\" of 0x and 64 hex digits.");
        }

        var privateKey = Convert.FromHexString(privateKeyText.AsSpan(2));
        VPodKey key;
        try
        {
            key = VPodKey.FromPrivateKey(privateKey);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidVPodKeyException($"The vPod key file '{path}' holds a private key that is not a valid secp256k1 scalar.", ex);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(privateKey);
        }

        if (!string.Equals(document.Address, key.Address, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidVPodKeyException($"The vPod key file '{path}' says address '{document.Address}', but its private key's address is {key.Address}; the file was altered — restore it from a backup.");
        }

        return key;
    }

    /// <summary>Writes a key file as the workload does (mode 0600, flushed, renamed into place); false when another file got there first.</summary>
    public static bool WriteNew(string path, VPodKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        var bytes = JsonSerializer.SerializeToUtf8Bytes(new KeyDocument(key.Address, key.PrivateKeyHex()), KeyFileJson.Default.KeyDocument);
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = KeyFileMode;
            }

            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(bytes);
                stream.Write("\n"u8);
                stream.Flush(flushToDisk: true);
            }

            try
            {
                File.Move(temporary, path, overwrite: false);
                return true;
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created the key first: the vPod has one key, theirs.
                return false;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
            File.Delete(temporary);
        }
    }

    /// <summary>A uniformly random valid scalar (a 32-byte draw is retried in the negligible case it is zero or not below the order).</summary>
    public static VPodKey Generate()
    {
        var candidate = new byte[EthereumSignatures.PrivateKeyLength];
        try
        {
            while (true)
            {
                RandomNumberGenerator.Fill(candidate);
                if (EthereumSignatures.IsPrivateKey(candidate))
                {
                    return VPodKey.FromPrivateKey(candidate);
                }
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(candidate);
        }
    }

    private static void CreateDirectory(string keyDirectory)
    {
        if (Directory.Exists(keyDirectory))
        {
            return;
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(keyDirectory);
        }
        else
        {
            Directory.CreateDirectory(keyDirectory, DirectoryMode);
        }
    }

    internal sealed record KeyDocument(
        [property: JsonPropertyName("address")] string? Address,
        [property: JsonPropertyName("privateKey")] string? PrivateKey);
}

[JsonSerializable(typeof(VPodKeyFile.KeyDocument))]
internal sealed partial class KeyFileJson : JsonSerializerContext;
