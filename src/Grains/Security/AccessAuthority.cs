using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using MetaNode.Security;

namespace MetaNode.Grains.Security;

/// <summary>
/// The cluster CA as this silo holds it: its certificate (to verify credentials), its key when this silo may issue
/// identities, and the secret that marks silo-internal calls (derived from the CA key, so every silo of the cluster
/// has the same one and no client can make it).
/// </summary>
public sealed class AccessAuthority : IDisposable
{
    private readonly ECDsa _publicKey;
    private readonly byte[] _internalSecret;

    public AccessAuthority(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        Certificate = certificate;
        _publicKey = certificate.GetECDsaPublicKey() ?? throw new InvalidOperationException("The cluster CA certificate must have an ECDSA P-256 key.");
        using var privateKey = certificate.GetECDsaPrivateKey()
            ?? throw new InvalidOperationException("The silo needs the cluster CA's private key (MetaNode:Tls:CaKey).");
        var d = privateKey.ExportParameters(includePrivateParameters: true).D!;
        _internalSecret = HMACSHA256.HashData(d, Encoding.ASCII.GetBytes("metanode silo-internal calls v1"));
        CryptographicOperations.ZeroMemory(d);
        InternalToken = Convert.ToBase64String(_internalSecret);
    }

    public X509Certificate2 Certificate { get; }

    /// <summary>The value silos put on their own calls (never sent to a client).</summary>
    public string InternalToken { get; }

    public string CertificatePem => Certificate.ExportCertificatePem();

    /// <summary>True when <paramref name="value"/> is this cluster's internal token (constant time).</summary>
    public bool IsInternal(object? value)
    {
        if (value is not string text || text.Length != InternalToken.Length)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(text.AsSpan()),
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(InternalToken.AsSpan()));
    }

    public bool TryVerifySignature(string credential, out CredentialClaims? claims, out string error) =>
        AccessCredential.TryVerifySignature(credential, _publicKey, out claims, out error);

    public string CreateCredential(CredentialClaims claims)
    {
        using var key = Certificate.GetECDsaPrivateKey()!;
        return AccessCredential.Create(claims, key);
    }

    public X509Certificate2 IssueClient(string name, AccessRole role, byte[] publicKey, DateTimeOffset notAfter) =>
        ClusterCertificates.IssueClient(Certificate, name, role, publicKey, notAfter);

    public void Dispose()
    {
        _publicKey.Dispose();
        CryptographicOperations.ZeroMemory(_internalSecret);
    }
}
