using MetaNode.Grains.Hosting;
using MetaNode.Security;

namespace MetaNode.Grains.Security;

[GenerateSerializer, Alias("MetaNode.Security.AccessState")]
public sealed class AccessState
{
    /// <summary>Name → record; names are never reused, revoked ones included.</summary>
    [Id(0)] public Dictionary<string, IdentityRecord> Identities { get; set; } = [];
}

[GrainType("access")]
public sealed class AccessGrain(
    [PersistentState("access", MetaNodeNames.VPodStorage)] IPersistentState<AccessState> state,
    AccessAuthority authority,
    RevokedIdentities revoked,
    TimeProvider time) : Grain, IAccessGrain
{
    public async Task<IssuedIdentity> GrantAsync(GrantRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!IdentityNames.IsValid(request.Name))
        {
            throw new InvalidAccessRequestException($"identity name '{request.Name}' must be 1-63 lower-case letters, digits, '.', '_' or '-', starting and ending with a letter or digit.");
        }

        if (request.Role is not (AccessRole.Viewer or AccessRole.Operator or AccessRole.Admin))
        {
            throw new InvalidAccessRequestException($"role '{request.Role}' must be viewer, operator or admin.");
        }

        if (request.ValidFor <= TimeSpan.Zero || request.ValidFor > AccessLimits.MaxValidity)
        {
            throw new InvalidAccessRequestException($"validity {request.ValidFor} must be positive and at most {AccessLimits.MaxValidity.TotalDays:0} days.");
        }

        if (state.State.Identities.ContainsKey(request.Name))
        {
            throw new InvalidAccessRequestException($"identity '{request.Name}' exists already (names are not reused, revoked ones included).");
        }

        var now = time.GetUtcNow();
        using var certificate = authority.IssueClient(request.Name, request.Role, request.PublicKey, now + request.ValidFor);
        var record = new IdentityRecord
        {
            Name = request.Name,
            Role = request.Role,
            Serial = ClusterCertificates.SerialOf(certificate),
            IssuedAt = now,
            ExpiresAt = certificate.NotAfter.ToUniversalTime(),
            IssuedBy = RequestContext.Get(AccessControlFilter.CallerKey) as string ?? "silo",
        };
        var credential = authority.CreateCredential(new CredentialClaims(record.Name, record.Role, record.Serial, record.ExpiresAt, CredentialClaims.ClientKind));
        state.State.Identities[record.Name] = record;
        await state.WriteStateAsync(cancellationToken);
        return new IssuedIdentity
        {
            Record = record,
            CertificatePem = certificate.ExportCertificatePem(),
            CaCertificatePem = authority.CertificatePem,
            Credential = credential,
        };
    }

    public async Task<IdentityRecord> RevokeAsync(string name, CancellationToken cancellationToken = default)
    {
        var record = Find(name);
        if (record.RevokedAt is null)
        {
            record = record with { RevokedAt = time.GetUtcNow() };
            state.State.Identities[name] = record;
            await state.WriteStateAsync(cancellationToken);
        }

        revoked.Add(record.Serial);
        return record;
    }

    public async Task<IdentityRecord> RevokeSerialAsync(string serial, CancellationToken cancellationToken = default)
    {
        var normalized = serial?.Trim().ToLowerInvariant() ?? string.Empty;
        if (normalized.StartsWith("0x", StringComparison.Ordinal))
        {
            normalized = normalized[2..];
        }

        if (normalized.Length is 0 or > 40 || !normalized.All(char.IsAsciiHexDigit))
        {
            throw new InvalidAccessRequestException($"serial '{serial}' must be a certificate serial number in hex (openssl x509 -noout -serial -in identity.crt).");
        }

        normalized = normalized.TrimStart('0');
        if (state.State.Identities.Values.FirstOrDefault(r => r.Serial.TrimStart('0') == normalized) is { } known)
        {
            return await RevokeAsync(known.Name, cancellationToken);
        }

        // Not issued through this grain: recorded under a name of its own so it shows in `access list` and stays revoked.
        var now = time.GetUtcNow();
        var record = new IdentityRecord
        {
            Name = $"serial-{normalized}",
            Role = AccessRole.None,
            Serial = normalized,
            IssuedAt = now,
            ExpiresAt = now,
            RevokedAt = now,
            IssuedBy = "outside this cluster's records",
        };
        state.State.Identities[record.Name] = record;
        await state.WriteStateAsync(cancellationToken);
        revoked.Add(record.Serial);
        return record;
    }

    public Task<IReadOnlyList<IdentityRecord>> ListAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<IdentityRecord>>([.. state.State.Identities.Values.OrderBy(r => r.IssuedAt).ThenBy(r => r.Name, StringComparer.Ordinal)]);

    public Task<string> IssueTokenAsync(string name, TimeSpan validFor, CancellationToken cancellationToken = default)
    {
        var record = Find(name);
        if (record.IsRevoked)
        {
            throw new InvalidAccessRequestException($"identity '{name}' is revoked.");
        }

        if (validFor <= TimeSpan.Zero || validFor > TimeSpan.FromDays(30))
        {
            throw new InvalidAccessRequestException($"token validity {validFor} must be positive and at most 30 days.");
        }

        var expires = time.GetUtcNow() + validFor;
        if (expires > record.ExpiresAt)
        {
            expires = record.ExpiresAt;
        }

        return Task.FromResult(authority.CreateCredential(new CredentialClaims(record.Name, record.Role, record.Serial, expires, CredentialClaims.BrowserKind)));
    }

    public Task<IReadOnlyList<string>> GetRevokedSerialsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<string>>([.. state.State.Identities.Values.Where(r => r.IsRevoked).Select(r => r.Serial)]);

    public async Task RecordIssuedAsync(IdentityRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (state.State.Identities.ContainsKey(record.Name))
        {
            return;
        }

        state.State.Identities[record.Name] = record;
        await state.WriteStateAsync(cancellationToken);
    }

    private IdentityRecord Find(string name) =>
        name is not null && state.State.Identities.TryGetValue(name, out var record)
            ? record
            : throw new InvalidAccessRequestException($"there is no identity '{name}'.");
}

[GrainType("audit"), Orleans.Concurrency.StatelessWorker]
public sealed class AuditGrain(IAuditLog audit) : Grain, IAuditGrain
{
    public Task<IReadOnlyList<AuditEntry>> ListAsync(AuditQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.Limit is < 1 or > AccessLimits.MaxAuditEntries)
        {
            throw new InvalidAccessRequestException($"audit limit {query.Limit} must be 1-{AccessLimits.MaxAuditEntries}.");
        }

        return audit.ListAsync(query, cancellationToken);
    }
}
