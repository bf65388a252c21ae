namespace MetaNode.Security;

/// <summary>The cluster's client identities: issues, lists and revokes them, and issues browser tokens.</summary>
[Alias("MetaNode.Security.IAccessGrain")]
[RequiresRole(AccessRole.Admin, Mutates = true)]
public interface IAccessGrain : IGrainWithStringKey
{
    /// <summary>Issues an identity for the caller's public key. A name in use (even revoked) is refused.</summary>
    [Alias("Grant")]
    Task<IssuedIdentity> GrantAsync(GrantRequest request, CancellationToken cancellationToken = default);

    /// <summary>Revokes an identity; its credential is refused by every silo within seconds.</summary>
    [Alias("Revoke")]
    Task<IdentityRecord> RevokeAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// Revokes a certificate serial (hex) the access grain has no record of, e.g. the admin identity `metanode-silo tls init`
    /// made offline; a serial of a recorded identity revokes that identity.
    /// </summary>
    [Alias("RevokeSerial")]
    Task<IdentityRecord> RevokeSerialAsync(string serial, CancellationToken cancellationToken = default);

    [Alias("List"), RequiresRole(AccessRole.Admin)]
    Task<IReadOnlyList<IdentityRecord>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>A token a browser presents to the silo's HTTP pages for the identity <paramref name="name"/>.</summary>
    [Alias("IssueToken")]
    Task<string> IssueTokenAsync(string name, TimeSpan validFor, CancellationToken cancellationToken = default);

    /// <summary>The serial numbers of revoked identities (silos poll it).</summary>
    [Alias("GetRevoked"), SiloOnly]
    Task<IReadOnlyList<string>> GetRevokedSerialsAsync(CancellationToken cancellationToken = default);

    /// <summary>Records an identity a silo issued itself (the first admin); idempotent.</summary>
    [Alias("RecordIssued"), SiloOnly]
    Task RecordIssuedAsync(IdentityRecord record, CancellationToken cancellationToken = default);
}

/// <summary>The append-only audit log, read side (written by the silos' call filter).</summary>
[Alias("MetaNode.Security.IAuditGrain")]
public interface IAuditGrain : IGrainWithStringKey
{
    [Alias("List"), RequiresRole(AccessRole.Admin)]
    Task<IReadOnlyList<AuditEntry>> ListAsync(AuditQuery query, CancellationToken cancellationToken = default);
}
