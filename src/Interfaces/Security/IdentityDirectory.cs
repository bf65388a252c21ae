using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MetaNode.Security;

/// <summary>A client identity loaded from its directory: the certificate with its key, the cluster CA and the credential.</summary>
public sealed class ClientIdentity(string directory, X509Certificate2 certificate, X509Certificate2 authority, string credential) : IDisposable
{
    public string Directory { get; } = directory;

    public X509Certificate2 Certificate { get; } = certificate;

    public X509Certificate2 Authority { get; } = authority;

    public string Credential { get; } = credential;

    public string Name => Certificate.GetNameInfo(X509NameType.SimpleName, false);

    public void Dispose()
    {
        Certificate.Dispose();
        Authority.Dispose();
    }
}

/// <summary>
/// The files of an identity directory: <c>identity.crt</c>, <c>identity.key</c> (PKCS#8), <c>ca.crt</c> and <c>credential</c>;
/// the directory is 0700 and each file 0600.
/// </summary>
public static class IdentityDirectory
{
    public const string CertificateFile = "identity.crt";
    public const string KeyFile = "identity.key";
    public const string AuthorityFile = "ca.crt";
    public const string CredentialFile = "credential";

    /// <summary>The environment variable naming an identity directory.</summary>
    public const string EnvironmentVariable = "METANODE_IDENTITY";

    /// <summary>Where identities for gateways live by default: <c>~/.metanode/identities</c>.</summary>
    public static string DefaultRoot => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".metanode", "identities");

    /// <summary>The identity directory for a gateway under <paramref name="root"/> (default <see cref="DefaultRoot"/>): <c>&lt;root&gt;/&lt;host&gt;_&lt;port&gt;</c>.</summary>
    public static string For(string host, int port, string? root = null) =>
        Path.Combine(root ?? DefaultRoot, $"{host.Trim('[', ']').Replace(':', '-')}_{port}");

    public static bool Exists(string directory) =>
        File.Exists(Path.Combine(directory, CertificateFile)) && File.Exists(Path.Combine(directory, KeyFile)) &&
        File.Exists(Path.Combine(directory, AuthorityFile)) && File.Exists(Path.Combine(directory, CredentialFile));

    /// <summary>Loads an identity; the message of the exception names the missing or broken file.</summary>
    /// <exception cref="InvalidOperationException">A file is missing or cannot be read.</exception>
    public static ClientIdentity Load(string directory)
    {
        string Read(string file)
        {
            var path = Path.Combine(directory, file);
            if (!File.Exists(path))
            {
                throw new InvalidOperationException($"The identity directory '{directory}' has no {file}.");
            }

            return File.ReadAllText(path);
        }

        try
        {
            var certificate = X509Certificate2.CreateFromPem(Read(CertificateFile), Read(KeyFile));
            var authority = X509Certificate2.CreateFromPem(Read(AuthorityFile));
            var credential = Read(CredentialFile).Trim();
            return new ClientIdentity(directory, certificate, authority, credential);
        }
        catch (CryptographicException ex)
        {
            throw new InvalidOperationException($"The identity in '{directory}' cannot be read: {ex.Message}", ex);
        }
    }

    /// <summary>Writes an identity: a 0700 directory with 0600 files. Files already there are replaced.</summary>
    public static void Save(string directory, string certificatePem, string keyPem, string authorityPem, string credential)
    {
        CreatePrivateDirectory(directory);
        WritePrivateFile(Path.Combine(directory, CertificateFile), certificatePem);
        WritePrivateFile(Path.Combine(directory, KeyFile), keyPem);
        WritePrivateFile(Path.Combine(directory, AuthorityFile), authorityPem);
        WritePrivateFile(Path.Combine(directory, CredentialFile), credential + "\n");
    }

    /// <summary>Creates the directory (and missing parents) with mode 0700 for the directory itself.</summary>
    public static void CreatePrivateDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(directory);
            return;
        }

        System.IO.Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>Writes a file readable and writable by its owner only (written beside, then moved into place).</summary>
    public static void WritePrivateFile(string path, string content)
    {
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temporary, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(content);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Move(temporary, path, overwrite: true);
    }
}
