using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace MetaNode.Security;

/// <summary>Who a credential speaks for, until when.</summary>
public sealed record CredentialClaims(string Name, AccessRole Role, string Serial, DateTimeOffset ExpiresAt, string Kind)
{
    public const string ClientKind = "client";
    public const string BrowserKind = "browser";
}

/// <summary>
/// The signed, expiring credential a client sends with every call: <c>mn1.&lt;claims&gt;.&lt;signature&gt;</c>, base64url,
/// the claims a small JSON object and the signature ECDSA P-256 / SHA-256 (IEEE P1363) by the cluster CA's key.
/// Silos verify it with the CA's public key; only a holder of the CA key can make one.
/// </summary>
public static class AccessCredential
{
    public const string RequestContextKey = "metanode.credential";
    private const string Prefix = "mn1.";

    public static string Create(CredentialClaims claims, ECDsa authorityKey)
    {
        ArgumentNullException.ThrowIfNull(claims);
        ArgumentNullException.ThrowIfNull(authorityKey);
        var json = JsonSerializer.SerializeToUtf8Bytes(new Wire(claims.Name, Role(claims.Role), claims.Serial, claims.ExpiresAt.ToUnixTimeSeconds(), claims.Kind));
        var body = Prefix + Base64Url.EncodeToString(json);
        var signature = authorityKey.SignData(Encoding.ASCII.GetBytes(body), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return body + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>Checks the signature and the expiry; <paramref name="error"/> says why a credential is refused.</summary>
    public static bool TryVerify(string? credential, ECDsa authorityPublicKey, DateTimeOffset now, out CredentialClaims? claims, out string error)
    {
        claims = null;
        if (!TryVerifySignature(credential, authorityPublicKey, out claims, out error))
        {
            return false;
        }

        if (claims!.ExpiresAt <= now)
        {
            error = $"the credential of '{claims.Name}' expired at {claims.ExpiresAt:u}";
            claims = null;
            return false;
        }

        return true;
    }

    /// <summary>Checks only the signature and the form (a cache keeps the result and checks the expiry on each use).</summary>
    public static bool TryVerifySignature(string? credential, ECDsa authorityPublicKey, out CredentialClaims? claims, out string error)
    {
        claims = null;
        if (string.IsNullOrEmpty(credential))
        {
            error = "no credential";
            return false;
        }

        if (credential.Length > 2048 || !credential.StartsWith(Prefix, StringComparison.Ordinal))
        {
            error = "not a MetaNode credential";
            return false;
        }

        var dot = credential.LastIndexOf('.');
        if (dot <= Prefix.Length)
        {
            error = "not a MetaNode credential";
            return false;
        }

        try
        {
            var body = credential[..dot];
            var signature = Base64Url.DecodeFromChars(credential.AsSpan(dot + 1));
            if (!authorityPublicKey.VerifyData(Encoding.ASCII.GetBytes(body), signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
            {
                error = "the credential's signature is not the cluster's";
                return false;
            }

            var wire = JsonSerializer.Deserialize<Wire>(Base64Url.DecodeFromChars(body.AsSpan(Prefix.Length)));
            if (wire is null || string.IsNullOrEmpty(wire.n) || string.IsNullOrEmpty(wire.s) || ParseRole(wire.r) is not { } role || wire.k is not (CredentialClaims.ClientKind or CredentialClaims.BrowserKind))
            {
                error = "the credential's claims are incomplete";
                return false;
            }

            claims = new CredentialClaims(wire.n, role, wire.s, DateTimeOffset.FromUnixTimeSeconds(wire.x), wire.k);
            error = string.Empty;
            return true;
        }
        catch (Exception ex) when (ex is FormatException or JsonException or CryptographicException or ArgumentException)
        {
            error = "the credential cannot be read";
            return false;
        }
    }

    public static string Role(AccessRole role) => role.ToString().ToLowerInvariant();

    public static AccessRole? ParseRole(string? value) => value switch
    {
        "viewer" => AccessRole.Viewer,
        "operator" => AccessRole.Operator,
        "admin" => AccessRole.Admin,
        _ => null,
    };

#pragma warning disable IDE1006, SA1300 // short wire names keep the credential small
    private sealed record Wire(string n, string r, string s, long x, string k);
#pragma warning restore IDE1006, SA1300
}
