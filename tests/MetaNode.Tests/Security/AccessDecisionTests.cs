using System.Security.Cryptography;
using MetaNode.Chain;
using MetaNode.Grains.Security;
using MetaNode.Security;
using MetaNode.Silo.Hosting;

namespace MetaNode.Tests.Security;

/// <summary>The pure parts of access control: credentials, decisions, certificates, names, redaction.</summary>
public sealed class AccessDecisionTests
{
    private static readonly AccessRequirement ViewerRead = new("IVPodGrain.GetStatus", AccessRole.Viewer, SiloOnly: false, Mutates: false);
    private static readonly AccessRequirement OperatorWrite = new("IVPodGrain.Create", AccessRole.Operator, SiloOnly: false, Mutates: true);
    private static readonly AccessRequirement SiloOnly = new("IVPodRegistryGrain.Upsert", AccessRole.None, SiloOnly: true, Mutates: false);

    private static CredentialClaims Claims(AccessRole role, string kind = CredentialClaims.ClientKind) =>
        new("alice", role, "0abc", DateTimeOffset.UtcNow.AddHours(1), kind);

    [Fact]
    public void Decide_AllowsARoleAtOrAboveTheNeed_AndRefusesBelowIt_OrWithoutAValidUnrevokedCredential()
    {
        Assert.True(AccessPolicy.Decide(ViewerRead, Claims(AccessRole.Viewer), revoked: false, string.Empty).Allowed);
        Assert.True(AccessPolicy.Decide(OperatorWrite, Claims(AccessRole.Admin), revoked: false, string.Empty).Allowed);
        Assert.Equal("'alice' is viewer", AccessPolicy.Decide(OperatorWrite, Claims(AccessRole.Viewer), revoked: false, string.Empty).Reason);
        Assert.Equal("identity 'alice' is revoked", AccessPolicy.Decide(ViewerRead, Claims(AccessRole.Admin), revoked: true, string.Empty).Reason);
        Assert.Equal("no credential", AccessPolicy.Decide(ViewerRead, null, revoked: false, "no credential").Reason);
        Assert.Equal("only silos call it", AccessPolicy.Decide(SiloOnly, Claims(AccessRole.Admin), revoked: false, string.Empty).Reason);
        Assert.Contains("not for calls", AccessPolicy.Decide(ViewerRead, Claims(AccessRole.Admin, CredentialClaims.BrowserKind), revoked: false, string.Empty).Reason, StringComparison.Ordinal);
        Assert.Equal("a silo", SiloOnly.Needs);
        Assert.Equal("operator", OperatorWrite.Needs);
    }

    [Fact]
    public void Credential_RoundTrips_AndAnyChangedByteOrOtherKeyOrExpiry_IsRefused()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var claims = Claims(AccessRole.Operator);
        var credential = AccessCredential.Create(claims, key);

        Assert.True(AccessCredential.TryVerify(credential, key, DateTimeOffset.UtcNow, out var read, out _));
        Assert.Equal(("alice", AccessRole.Operator, "0abc", CredentialClaims.ClientKind), (read!.Name, read.Role, read.Serial, read.Kind));
        Assert.Equal(claims.ExpiresAt.ToUnixTimeSeconds(), read.ExpiresAt.ToUnixTimeSeconds());

        Assert.False(AccessCredential.TryVerify(credential, other, DateTimeOffset.UtcNow, out _, out var wrongKey));
        Assert.Contains("signature", wrongKey, StringComparison.Ordinal);
        Assert.False(AccessCredential.TryVerify(credential, key, claims.ExpiresAt.AddSeconds(1), out _, out var expired));
        Assert.Contains("expired", expired, StringComparison.Ordinal);
        for (var i = 4; i < credential.Length; i += 7)
        {
            var changed = credential[..i] + (credential[i] == 'A' ? 'B' : 'A') + credential[(i + 1)..];
            Assert.False(AccessCredential.TryVerify(changed, key, DateTimeOffset.UtcNow, out _, out _), $"changed at {i}");
        }

        Assert.False(AccessCredential.TryVerify("", key, DateTimeOffset.UtcNow, out _, out var empty));
        Assert.Equal("no credential", empty);
        Assert.False(AccessCredential.TryVerify("mn1.x.y", key, DateTimeOffset.UtcNow, out _, out _));
    }

    [Fact]
    public void Certificates_ChainOnlyToTheirOwnAuthority_AndCarryTheirUnit()
    {
        using var ca = ClusterCertificates.CreateAuthority("c1");
        using var otherCa = ClusterCertificates.CreateAuthority("c2");
        using var silo = ClusterCertificates.IssueSilo(ca, ["127.0.0.1", "localhost"]);
        using var clientKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var client = ClusterCertificates.IssueClient(ca, "bob", AccessRole.Operator, clientKey.ExportSubjectPublicKeyInfo(), DateTimeOffset.UtcNow.AddDays(1));

        Assert.True(ClusterCertificates.IsIssuedBy(silo, ca, ClusterCertificates.SiloUnit));
        Assert.True(ClusterCertificates.IsIssuedBy(client, ca, ClusterCertificates.ClientUnit));
        Assert.False(ClusterCertificates.IsIssuedBy(client, ca, ClusterCertificates.SiloUnit));
        Assert.False(ClusterCertificates.IsIssuedBy(silo, otherCa));
        Assert.False(ClusterCertificates.IsIssuedBy(client, otherCa));
        Assert.Equal("bob", client.GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.SimpleName, false));
        Assert.False(client.HasPrivateKey);
        Assert.Equal(AccessRole.Operator, ClusterCertificates.RoleOf(client));
        Assert.Null(ClusterCertificates.RoleOf(silo));

        using var rsa = RSA.Create(2048);
        Assert.Throws<InvalidAccessRequestException>(() => ClusterCertificates.IssueClient(ca, "eve", AccessRole.Viewer, rsa.ExportSubjectPublicKeyInfo(), DateTimeOffset.UtcNow.AddDays(1)));
        Assert.Throws<InvalidAccessRequestException>(() => ClusterCertificates.IssueClient(ca, "eve", AccessRole.Viewer, [1, 2, 3], DateTimeOffset.UtcNow.AddDays(1)));
    }

    [Theory]
    [InlineData("admin", true)]
    [InlineData("ci-bot.2", true)]
    [InlineData("a", true)]
    [InlineData("Admin", false)]
    [InlineData("-lead", false)]
    [InlineData("trail-", false)]
    [InlineData("sp ace", false)]
    [InlineData("../etc", false)]
    [InlineData("", false)]
    public void IdentityNames_AreLowerCaseWords(string name, bool valid) => Assert.Equal(valid, IdentityNames.IsValid(name));

    [Theory]
    [InlineData("http://127.0.0.1:8545", "http://127.0.0.1:8545")]
    [InlineData("http://127.0.0.1:8545/", "http://127.0.0.1:8545/")]
    [InlineData("https://user:pa55word@node.example:8545/rpc", "https://***@node.example:8545/rpc")]
    [InlineData("https://mainnet.example/v3/9aa3d95b3bc440fa88ea12eaa4456161", "https://mainnet.example/v3/***")]
    [InlineData("https://node.example/rpc?apikey=abc", "https://node.example/rpc?***")]
    [InlineData("not a url", "***")]
    public void RpcUrls_AreShownWithoutCredentials(string url, string shown) => Assert.Equal(shown, RpcUrls.Redact(url));

    [Fact]
    public void Http_OpensOnlyHealthMetricsAndIpfs_AndNeedsAValidViewerTokenElsewhere()
    {
        var viewer = Claims(AccessRole.Viewer, CredentialClaims.BrowserKind);
        (CredentialClaims?, string) Valid(string _) => (viewer, string.Empty);
        (CredentialClaims?, string) Invalid(string _) => (null, "the credential's signature is not the cluster's");

        Assert.Null(HttpAccess.Decide("/healthz", null, Invalid, _ => false));
        Assert.Null(HttpAccess.Decide("/metrics", null, Invalid, _ => false));
        Assert.Null(HttpAccess.Decide("/ipfs/bafkrei", null, Invalid, _ => false));
        Assert.Equal(401, HttpAccess.Decide("/dashboard", null, Valid, _ => false)!.Value.Status);
        Assert.Equal(401, HttpAccess.Decide("/healthzz", null, Valid, _ => false)!.Value.Status);
        Assert.Equal(403, HttpAccess.Decide("/dashboard", "t", Invalid, _ => false)!.Value.Status);
        Assert.Equal(403, HttpAccess.Decide("/dashboard", "t", Valid, _ => true)!.Value.Status);
        Assert.Null(HttpAccess.Decide("/dashboard", "t", Valid, _ => false));
    }

    [Fact]
    public void Masking_HidesEnvironmentValues_InATaggedStatus_KeepingTheTag()
    {
        var status = new MetaNode.VPods.VPodStatus
        {
            Id = "vpod-1",
            Name = "n",
            Spec = new MetaNode.VPods.VPodSpec { Name = "n", Env = new Dictionary<string, string> { ["A"] = "secret" } },
        };
        var tagged = new MetaNode.VPods.TaggedVPodStatus(Guid.NewGuid(), status);

        var masked = (MetaNode.VPods.TaggedVPodStatus)SecretMasking.Mask(tagged)!;

        Assert.Equal(tagged.Tag, masked.Tag);
        Assert.Equal("***", masked.Status.Spec!.Env["A"]);
        Assert.Equal("secret", status.Spec!.Env["A"]);
        Assert.True(AccessPolicy.For(typeof(MetaNode.VPods.IVPodGrain).GetMethod(nameof(MetaNode.VPods.IVPodGrain.GetStatusIfChangedAsync))!).ReturnsEnvironment);
    }

    [Fact]
    public void Masking_HidesEnvironmentValues_KeepingNames()
    {
        var status = new MetaNode.VPods.VPodStatus
        {
            Id = "vpod-1",
            Name = "n",
            Spec = new MetaNode.VPods.VPodSpec { Name = "n", Env = new Dictionary<string, string> { ["A"] = "secret" } },
        };
        var masked = (MetaNode.VPods.VPodStatus)SecretMasking.Mask(status)!;
        Assert.Equal("***", masked.Spec!.Env["A"]);
        Assert.Equal("secret", status.Spec!.Env["A"]);
    }
}
