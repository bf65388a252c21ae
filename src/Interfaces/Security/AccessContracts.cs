namespace MetaNode.Security;

/// <summary>A client identity the cluster issued, as the access grain records it (never its private key).</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Security.IdentityRecord")]
public sealed record IdentityRecord
{
    [Id(0)] public required string Name { get; init; }
    [Id(1)] public required AccessRole Role { get; init; }

    /// <summary>The serial number of its certificate, hex; credentials name it.</summary>
    [Id(2)] public required string Serial { get; init; }
    [Id(3)] public DateTimeOffset IssuedAt { get; init; }
    [Id(4)] public DateTimeOffset ExpiresAt { get; init; }
    [Id(5)] public DateTimeOffset? RevokedAt { get; init; }

    /// <summary>Who issued it (the admin identity's name, or <c>silo</c> for the first admin).</summary>
    [Id(6)] public string? IssuedBy { get; init; }

    public bool IsRevoked => RevokedAt is not null;
}

/// <summary>What <c>access grant</c> hands back: the certificate for the caller's own key, the cluster's CA and the credential.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Security.IssuedIdentity")]
public sealed record IssuedIdentity
{
    [Id(0)] public required IdentityRecord Record { get; init; }

    /// <summary>The client certificate (PEM) for the public key the caller sent; its private key never left the caller.</summary>
    [Id(1)] public required string CertificatePem { get; init; }

    /// <summary>The cluster CA certificate (PEM): what the client checks the silos' certificates against.</summary>
    [Id(2)] public required string CaCertificatePem { get; init; }

    /// <summary>The signed, expiring credential the client sends with every call.</summary>
    [Id(3)] public required string Credential { get; init; }
}

/// <summary>Asks for a new identity. The caller keeps the private key; it sends the public key only.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Security.GrantRequest")]
public sealed record GrantRequest
{
    [Id(0)] public required string Name { get; init; }
    [Id(1)] public required AccessRole Role { get; init; }

    /// <summary>The identity's public key as a DER SubjectPublicKeyInfo (ECDSA P-256).</summary>
    [Id(2)] public required byte[] PublicKey { get; init; }

    /// <summary>How long the identity is valid; at most <see cref="AccessLimits.MaxValidity"/>.</summary>
    [Id(3)] public TimeSpan ValidFor { get; init; } = AccessLimits.DefaultValidity;
}

/// <summary>One line of the audit log: who called what on which target, when, and how it ended.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Security.AuditEntry")]
public sealed record AuditEntry
{
    [Id(0)] public DateTimeOffset Time { get; init; }

    /// <summary>The identity's name; <c>anonymous</c> when the call carried no valid credential.</summary>
    [Id(1)] public required string Identity { get; init; }

    /// <summary><c>Interface.Method</c>, e.g. <c>IVPodGrain.Create</c>.</summary>
    [Id(2)] public required string Method { get; init; }

    /// <summary>The grain the call was addressed to (its key).</summary>
    [Id(3)] public required string Target { get; init; }

    /// <summary><c>ok</c>, <c>denied: …</c> or <c>failed: ExceptionType</c>.</summary>
    [Id(4)] public required string Outcome { get; init; }
}

/// <summary>Which audit entries to list, newest last.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Security.AuditQuery")]
public sealed record AuditQuery
{
    [Id(0)] public DateTimeOffset? Since { get; init; }
    [Id(1)] public string? Identity { get; init; }
    [Id(2)] public int Limit { get; init; } = 1000;
}

public static class AccessLimits
{
    public static readonly TimeSpan DefaultValidity = TimeSpan.FromDays(365);
    public static readonly TimeSpan MaxValidity = TimeSpan.FromDays(3650);
    public static readonly TimeSpan DefaultTokenValidity = TimeSpan.FromHours(12);
    public const int MaxAuditEntries = 10_000;
}

public static class AccessKeys
{
    public const string Default = "default";
}
