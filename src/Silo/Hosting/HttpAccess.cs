using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MetaNode.Grains.Security;
using MetaNode.Security;

namespace MetaNode.Silo.Hosting;

/// <summary>
/// Who may see the silo's HTTP pages: <c>/healthz</c>, <c>/metrics</c> and <c>/ipfs/</c> answer anyone; every other path
/// (the dashboard, the MetaNode view under <c>/ui</c>) needs a browser token an admin issued (<c>access token</c>), presented once at <c>/login?token=…</c>
/// (kept in an HTTP-only cookie) or as <c>Authorization: Bearer …</c>, unrevoked, unexpired and of at least a viewer.
/// </summary>
public static class HttpAccess
{
    public const string CookieName = "metanode_token";
    private static readonly string[] OpenPaths = ["/healthz", "/metrics"];

    /// <summary>A pure decision for one request: <c>null</c> to serve it, else the status code and the reason.</summary>
    public static (int Status, string Reason)? Decide(string path, string? token, Func<string, (CredentialClaims? Claims, string Error)> verify, Func<string, bool> isRevoked)
    {
        if (OpenPaths.Contains(path, StringComparer.Ordinal) || path.StartsWith("/ipfs/", StringComparison.Ordinal))
        {
            return null;
        }

        if (string.IsNullOrEmpty(token))
        {
            return (StatusCodes.Status401Unauthorized, "an identity is needed: open /login?token=<token> with a token from `metanode-cli access token --name NAME`");
        }

        var (claims, error) = verify(token);
        if (claims is null)
        {
            return (StatusCodes.Status403Forbidden, $"the token is refused: {error}");
        }

        if (isRevoked(claims.Serial))
        {
            return (StatusCodes.Status403Forbidden, $"identity '{claims.Name}' is revoked");
        }

        return claims.Role >= AccessRole.Viewer ? null : (StatusCodes.Status403Forbidden, $"'{claims.Name}' may not view");
    }

    /// <summary>Adds the check in front of every endpoint, and <c>/login</c>.</summary>
    public static void UseMetaNodeHttpAccess(this WebApplication app)
    {
        var authority = app.Services.GetRequiredService<AccessAuthority>();
        var revoked = app.Services.GetRequiredService<RevokedIdentities>();
        var time = app.Services.GetRequiredService<TimeProvider>();
        using var key = authority.Certificate.GetECDsaPublicKey()!;
        var publicKey = ECDsa.Create(key.ExportParameters(false));

        (CredentialClaims?, string) Verify(string token) =>
            AccessCredential.TryVerify(token, publicKey, time.GetUtcNow(), out var claims, out var error) ? (claims, string.Empty) : (null, error);

        app.MapGet("/login", (HttpContext http, string? token) =>
        {
            var refusal = Decide("/login", token, Verify, revoked.IsRevoked);
            if (refusal is { } r)
            {
                return Results.Text(r.Reason + "\n", statusCode: r.Status);
            }

            var (claims, _) = Verify(token!);
            http.Response.Cookies.Append(CookieName, token!, new CookieOptions
            {
                HttpOnly = true,
                SameSite = SameSiteMode.Strict,
                Secure = http.Request.IsHttps,
                Path = "/",
                Expires = claims!.ExpiresAt,
            });
            return Results.Redirect("/dashboard");
        });

        app.Use(async (http, next) =>
        {
            var path = http.Request.Path.Value ?? "/";
            if (path == "/login")
            {
                await next(http);
                return;
            }

            // Over HTTPS, a client certificate of the cluster (Kestrel checked its chain) identifies the caller by itself.
            if (http.Connection.ClientCertificate is { } certificate && FromCertificate(certificate, authority.Certificate) is { } fromCertificate)
            {
                if (Decide(path, "certificate", _ => (fromCertificate, string.Empty), revoked.IsRevoked) is { } refused)
                {
                    await RefuseAsync(http, refused);
                    return;
                }

                await next(http);
                return;
            }

            var token = http.Request.Cookies[CookieName];
            var authorization = http.Request.Headers.Authorization.ToString();
            if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                token = authorization["Bearer ".Length..].Trim();
            }

            if (Decide(path, token, Verify, revoked.IsRevoked) is { } refusal)
            {
                await RefuseAsync(http, refusal);
                return;
            }

            await next(http);
        });
    }

    /// <summary>Claims from a client certificate the cluster CA issued (name, role, serial, expiry), or null.</summary>
    public static CredentialClaims? FromCertificate(X509Certificate2 certificate, X509Certificate2 authority) =>
        ClusterCertificates.IsIssuedBy(certificate, authority, ClusterCertificates.ClientUnit) && ClusterCertificates.RoleOf(certificate) is { } role
            ? new CredentialClaims(certificate.GetNameInfo(X509NameType.SimpleName, false), role, ClusterCertificates.SerialOf(certificate), certificate.NotAfter.ToUniversalTime(), CredentialClaims.ClientKind)
            : null;

    private static async Task RefuseAsync(HttpContext http, (int Status, string Reason) refusal)
    {
        http.Response.StatusCode = refusal.Status;
        http.Response.ContentType = "text/plain; charset=utf-8";
        await http.Response.WriteAsync(refusal.Reason + "\n");
    }
}
