using MetaNode.Security;

namespace MetaNode.Grains.Security;

/// <summary>The append-only audit log in the silo's database (SQLite in the embedded profile, PostgreSQL in the cluster profile).</summary>
public interface IAuditLog
{
    Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default);

    /// <summary>Entries matching <paramref name="query"/>, oldest first, at most <see cref="AuditQuery.Limit"/> (the newest ones).</summary>
    Task<IReadOnlyList<AuditEntry>> ListAsync(AuditQuery query, CancellationToken cancellationToken = default);
}
