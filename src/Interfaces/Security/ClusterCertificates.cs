using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MetaNode.Security;

/// <summary>
/// The cluster's X.509 certificates, all ECDSA P-256: a CA, silo certificates (server and client authentication, OU=silo)
/// and client identity certificates (client authentication, OU=client, O=their role) for keys their holders made.
/// </summary>
public static class ClusterCertificates
{
    public const string SiloUnit = "silo";
    public const string ClientUnit = "client";

    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    /// <summary>A new self-signed CA, valid ten years.</summary>
    public static X509Certificate2 CreateAuthority(string clusterId)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN=MetaNode CA {Sanitize(clusterId)}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));
    }

    /// <summary>A silo certificate for the given addresses and host names, with its own new key, valid two years.</summary>
    public static X509Certificate2 IssueSilo(X509Certificate2 authority, IEnumerable<string> hosts)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN=metanode-silo, OU={SiloUnit}"), key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var host in hosts.Where(h => !string.IsNullOrWhiteSpace(h)).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (IPAddress.TryParse(host, out var address))
            {
                names.AddIpAddress(address);
            }
            else
            {
                names.AddDnsName(host);
            }
        }

        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuth, ClientAuth], false));
        var now = DateTimeOffset.UtcNow;
        using var issued = Sign(request, authority, now.AddMinutes(-5), Min(now.AddYears(2), authority.NotAfter));
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>A client certificate for a public key its holder made (DER SubjectPublicKeyInfo); the private key stays with the holder.</summary>
    /// <exception cref="InvalidAccessRequestException">The key is not an ECDSA P-256 public key.</exception>
    public static X509Certificate2 IssueClient(X509Certificate2 authority, string name, AccessRole role, byte[] subjectPublicKeyInfo, DateTimeOffset notAfter)
    {
        PublicKey publicKey;
        try
        {
            publicKey = PublicKey.CreateFromSubjectPublicKeyInfo(subjectPublicKeyInfo, out var read);
            using var ec = publicKey.GetECDsaPublicKey();
            if (read != subjectPublicKeyInfo.Length || ec is null || ec.KeySize != 256)
            {
                throw new InvalidAccessRequestException("the identity's public key must be an ECDSA P-256 SubjectPublicKeyInfo.");
            }
        }
        catch (CryptographicException ex)
        {
            throw new InvalidAccessRequestException($"the identity's public key cannot be read: {ex.Message}");
        }

        var request = new CertificateRequest(new X500DistinguishedName($"CN={Sanitize(name)}, OU={ClientUnit}, O={AccessCredential.Role(role)}"), publicKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ClientAuth], false));
        var now = DateTimeOffset.UtcNow;
        return Sign(request, authority, now.AddMinutes(-5), Min(notAfter, authority.NotAfter));
    }

    /// <summary>True when <paramref name="certificate"/> chains to <paramref name="authority"/> (and only to it), is in its validity period and, when given, carries <paramref name="unit"/> as its OU.</summary>
    public static bool IsIssuedBy(X509Certificate2 certificate, X509Certificate2 authority, string? unit = null)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.NoFlag;
        if (!chain.Build(certificate) || chain.ChainElements.Count != 2 || !chain.ChainElements[^1].Certificate.RawData.AsSpan().SequenceEqual(authority.RawData))
        {
            return false;
        }

        return unit is null || UnitOf(certificate) == unit;
    }

    /// <summary>The OU of the certificate's subject, or null.</summary>
    public static string? UnitOf(X509Certificate2 certificate) =>
        certificate.SubjectName.EnumerateRelativeDistinguishedNames()
            .Where(n => n.GetSingleElementType().Value == "2.5.4.11")
            .Select(n => n.GetSingleElementValue())
            .FirstOrDefault();

    /// <summary>The role a client certificate was issued with (its subject's O), or null.</summary>
    public static AccessRole? RoleOf(X509Certificate2 certificate) =>
        AccessCredential.ParseRole(certificate.SubjectName.EnumerateRelativeDistinguishedNames()
            .Where(n => n.GetSingleElementType().Value == "2.5.4.10")
            .Select(n => n.GetSingleElementValue())
            .FirstOrDefault());

    public static string SerialOf(X509Certificate2 certificate) => certificate.SerialNumber.ToLowerInvariant();

    /// <summary>The authority's certificate and private key from PEM text.</summary>
    public static X509Certificate2 LoadWithKey(string certificatePem, string keyPem)
    {
        using var certificate = X509Certificate2.CreateFromPem(certificatePem);
        using var key = ECDsa.Create();
        key.ImportFromPem(keyPem);
        return certificate.CopyWithPrivateKey(key);
    }

    public static string KeyPem(X509Certificate2 certificate)
    {
        using var key = certificate.GetECDsaPrivateKey() ?? throw new InvalidOperationException("The certificate carries no ECDSA private key.");
        return key.ExportPkcs8PrivateKeyPem();
    }

    private static X509Certificate2 Sign(CertificateRequest request, X509Certificate2 authority, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var caKey = authority.GetECDsaPrivateKey() ?? throw new InvalidOperationException("The CA certificate carries no private key; this silo cannot issue certificates.");
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        serial[0] |= 0x01;
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        return request.Create(authority.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey), notBefore, notAfter, serial);
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static string Sanitize(string value) => new([.. value.Where(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.')]);
}
