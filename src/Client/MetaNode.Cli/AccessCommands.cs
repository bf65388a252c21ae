using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using MetaNode.Security;
using MetaNode.VPods;
using Spectre.Console;
using static MetaNode.Cli.CliApp;

namespace MetaNode.Cli;

/// <summary><c>access grant|list|revoke|token</c> and <c>audit list</c>.</summary>
internal static class AccessCommands
{
    public static Command BuildAccess(CliContext context)
    {
        var access = new Command("access", "Client identities and their roles (viewer, operator, admin).");
        access.Subcommands.Add(Grant(context));
        access.Subcommands.Add(List(context));
        access.Subcommands.Add(Revoke(context));
        access.Subcommands.Add(Token(context));
        return access;
    }

    public static Command BuildAudit(CliContext context)
    {
        var since = new Option<string?>("--since") { Description = "Only entries from this long ago (30m, 1h, 2d) or since a timestamp.", HelpName = "duration|time" };
        var identity = new Option<string?>("--identity-name") { Description = "Only calls by this identity.", HelpName = "name" };
        var limit = new Option<int>("--limit") { Description = "At most this many of the newest entries.", DefaultValueFactory = _ => 1000 };
        var list = new Command("list", "Every mutation and refused call: time, identity, method, target, outcome.") { since, identity, limit };
        list.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            DateTimeOffset? from = null;
            if (parseResult.GetValue(since) is { } text)
            {
                try
                {
                    from = ResourceQuantity.ParseSince(text, DateTimeOffset.UtcNow);
                }
                catch (FormatException ex)
                {
                    throw new CliUsageException($"--since: {ex.Message}");
                }
            }

            var n = parseResult.GetValue(limit);
            if (n is < 1 or > AccessLimits.MaxAuditEntries)
            {
                throw new CliUsageException($"--limit must be 1-{AccessLimits.MaxAuditEntries}, got '{n}'.");
            }

            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var entries = await client.ListAuditAsync(new AuditQuery { Since = from, Identity = parseResult.GetValue(identity), Limit = n }, ct).ConfigureAwait(false);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(entries.Select(e => new { time = e.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture), identity = e.Identity, method = e.Method, target = e.Target, outcome = e.Outcome }));
                return ExitCodes.Success;
            }

            var table = new Table().AddColumns("Time", "Identity", "Method", "Target", "Outcome");
            foreach (var e in entries)
            {
                table.AddRow(Markup.Escape(e.Time.ToString("u", CultureInfo.InvariantCulture)), Markup.Escape(e.Identity), Markup.Escape(e.Method), Markup.Escape(e.Target), Markup.Escape(e.Outcome));
            }

            output.Renderer.Write(table);
            return ExitCodes.Success;
        }));
        var audit = new Command("audit", "The audit log (admin).");
        audit.Subcommands.Add(list);
        return audit;
    }

    private static Command Grant(CliContext context)
    {
        var name = new Option<string>("--name") { Description = "The identity's name (lower-case letters, digits, '.', '_', '-').", Required = true };
        var role = new Option<string>("--role") { Description = "viewer, operator or admin.", Required = true, HelpName = "viewer|operator|admin" };
        var outDir = new Option<string>("--out") { Description = "The directory to write the identity to (it must not hold one).", Required = true, HelpName = "dir" };
        var validFor = new Option<string?>("--valid-for") { Description = "How long it is valid (e.g. 30d, 8760h); default 365 days.", HelpName = "duration" };
        var grant = new Command("grant", "Issue an identity: its key is made here and never sent; the cluster signs its certificate.") { name, role, outDir, validFor };
        grant.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var identityName = parseResult.GetValue(name)!;
            if (!IdentityNames.IsValid(identityName))
            {
                throw new CliUsageException($"--name '{identityName}' must be 1-63 lower-case letters, digits, '.', '_' or '-', starting and ending with a letter or digit.");
            }

            var accessRole = AccessCredential.ParseRole(parseResult.GetValue(role)) ?? throw new CliUsageException($"--role must be viewer, operator or admin, got '{parseResult.GetValue(role)}'.");
            var validity = AccessLimits.DefaultValidity;
            if (parseResult.GetValue(validFor) is { } text && (!ResourceQuantity.TryParseDuration(text, out validity) || validity <= TimeSpan.Zero || validity > AccessLimits.MaxValidity))
            {
                throw new CliUsageException($"--valid-for must be a duration up to {AccessLimits.MaxValidity.TotalDays:0}d (e.g. 30d), got '{text}'.");
            }

            var directory = Path.GetFullPath(parseResult.GetValue(outDir)!);
            if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
            {
                throw new CliUsageException($"--out '{directory}' is not empty; an identity is never overwritten.");
            }

            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var issued = await client.GrantAccessAsync(new GrantRequest { Name = identityName, Role = accessRole, PublicKey = key.ExportSubjectPublicKeyInfo(), ValidFor = validity }, ct).ConfigureAwait(false);
            IdentityDirectory.Save(directory, issued.CertificatePem, key.ExportPkcs8PrivateKeyPem(), issued.CaCertificatePem, issued.Credential);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(new { issued.Record.Name, Role = AccessCredential.Role(issued.Record.Role), issued.Record.Serial, issued.Record.ExpiresAt, Directory = directory });
            }
            else
            {
                context.Stdout.WriteLine($"identity '{issued.Record.Name}' ({AccessCredential.Role(issued.Record.Role)}, serial {issued.Record.Serial}, expires {issued.Record.ExpiresAt:u}) written to {directory}");
            }

            return ExitCodes.Success;
        }));
        return grant;
    }

    private static Command List(CliContext context)
    {
        var list = new Command("list", "Every identity the cluster issued, revoked ones included.");
        list.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var records = await client.ListAccessAsync(ct).ConfigureAwait(false);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(records.Select(r => new { r.Name, Role = AccessCredential.Role(r.Role), r.Serial, r.IssuedAt, r.ExpiresAt, r.RevokedAt, r.IssuedBy }));
                return ExitCodes.Success;
            }

            var table = new Table().AddColumns("Name", "Role", "Serial", "Issued", "Expires", "Revoked", "Issued by");
            foreach (var r in records)
            {
                table.AddRow(Markup.Escape(r.Name), AccessCredential.Role(r.Role), r.Serial, r.IssuedAt.ToString("u", CultureInfo.InvariantCulture), r.ExpiresAt.ToString("u", CultureInfo.InvariantCulture), r.RevokedAt?.ToString("u", CultureInfo.InvariantCulture) ?? "-", Markup.Escape(r.IssuedBy ?? "-"));
            }

            output.Renderer.Write(table);
            return ExitCodes.Success;
        }));
        return list;
    }

    private static Command Revoke(CliContext context)
    {
        var name = new Option<string?>("--name") { Description = "The identity to revoke." };
        var serial = new Option<string?>("--serial") { Description = "Or a certificate serial (hex) the cluster has no record of, e.g. the admin `metanode-silo tls init` made." };
        var revoke = new Command("revoke", "Revoke an identity: every silo refuses it within seconds.") { name, serial };
        revoke.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var (byName, bySerial) = (parseResult.GetValue(name), parseResult.GetValue(serial));
            if ((byName is null) == (bySerial is null))
            {
                throw new CliUsageException("give either --name or --serial.");
            }

            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var record = byName is not null
                ? await client.RevokeAccessAsync(byName, ct).ConfigureAwait(false)
                : await client.RevokeAccessSerialAsync(bySerial!, ct).ConfigureAwait(false);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(new { record.Name, Role = AccessCredential.Role(record.Role), record.Serial, record.RevokedAt });
            }
            else
            {
                context.Stdout.WriteLine($"identity '{record.Name}' revoked at {record.RevokedAt:u}");
            }

            return ExitCodes.Success;
        }));
        return revoke;
    }

    private static Command Token(CliContext context)
    {
        var name = new Option<string>("--name") { Description = "The identity the browser acts as.", Required = true };
        var validFor = new Option<string?>("--valid-for") { Description = "How long the token is valid (default 12h, at most 30d).", HelpName = "duration" };
        var token = new Command("token", "Issue a token a browser presents to the silo's pages (the dashboard): open /login?token=… once.") { name, validFor };
        token.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var validity = AccessLimits.DefaultTokenValidity;
            if (parseResult.GetValue(validFor) is { } text && (!ResourceQuantity.TryParseDuration(text, out validity) || validity <= TimeSpan.Zero))
            {
                throw new CliUsageException($"--valid-for must be a positive duration (e.g. 12h), got '{text}'.");
            }

            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var value = await client.IssueAccessTokenAsync(parseResult.GetValue(name)!, validity, ct).ConfigureAwait(false);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(new { token = value });
            }
            else
            {
                context.Stdout.WriteLine(value);
            }

            return ExitCodes.Success;
        }));
        return token;
    }
}
