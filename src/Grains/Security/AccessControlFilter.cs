using System.Collections.Concurrent;
using MetaNode.Security;
using Microsoft.Extensions.Logging;

namespace MetaNode.Grains.Security;

/// <summary>
/// Checks every call that reaches a grain of this silo: a call another silo (or this one) made carries the cluster's
/// internal token and passes; any other call came from a client and needs a valid, unrevoked credential whose role
/// reaches the one the method declares (<see cref="AccessPolicy"/>). Refusals and mutations are audited.
/// </summary>
public sealed partial class AccessControlFilter(
    AccessAuthority authority,
    RevokedIdentities revoked,
    IAuditLog audit,
    TimeProvider time,
    ILogger<AccessControlFilter> logger) : IIncomingGrainCallFilter
{
    /// <summary>The request-context key of the internal token.</summary>
    public const string InternalKey = "metanode.silo";

    /// <summary>The request-context key under which a client call's verified identity name reaches the grain (set here, never taken from the client).</summary>
    public const string CallerKey = "metanode.caller";

    private const int MaxCachedCredentials = 10_000;
    private readonly ConcurrentDictionary<string, Verified> _verified = new(StringComparer.Ordinal);

    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (authority.IsInternal(RequestContext.Get(InternalKey)) || IsRuntimeLocal(context))
        {
            return context.Invoke();
        }

        var requirement = AccessPolicy.For(context.InterfaceMethod);
        var credential = RequestContext.Get(AccessCredential.RequestContextKey) as string;
        var verified = Verify(credential);
        var claims = verified.Claims is { } c && c.ExpiresAt <= time.GetUtcNow() ? null : verified.Claims;
        var error = verified.Claims is not null && claims is null ? $"the credential of '{verified.Claims.Name}' expired at {verified.Claims.ExpiresAt:u}" : verified.Error;
        var decision = AccessPolicy.Decide(requirement, claims, claims is not null && revoked.IsRevoked(claims.Serial), error);
        if (!decision.Allowed)
        {
            return RefuseAsync(context, requirement, claims?.Name ?? verified.Claims?.Name, decision.Reason);
        }

        RequestContext.Set(CallerKey, claims!.Name);
        var masks = requirement.ReturnsEnvironment && claims.Role < AccessRole.Admin;
        if (requirement.Mutates)
        {
            return InvokeAuditedAsync(context, requirement, claims.Name, masks);
        }

        return masks ? InvokeMaskedAsync(context) : context.Invoke();
    }

    private static Task InvokeMaskedAsync(IIncomingGrainCallContext context)
    {
        // Most reads complete at once (a status the grain holds): mask then, without a continuation.
        var invoked = context.Invoke();
        if (invoked.IsCompletedSuccessfully)
        {
            context.Result = SecretMasking.Mask(context.Result);
            return Task.CompletedTask;
        }

        return MaskWhenDoneAsync(invoked, context);
    }

    private static async Task MaskWhenDoneAsync(Task invoked, IIncomingGrainCallContext context)
    {
        await invoked.ConfigureAwait(false);
        context.Result = SecretMasking.Mask(context.Result);
    }

    /// <summary>
    /// Calls the Orleans runtime makes without a grain reference, so no outgoing filter marks them: grain timer ticks
    /// (their invokable is the local timer object, which no client can send), and calls to the runtime's own system
    /// targets (membership, directory, stream agents), which clients of Orleans also use and which hold no MetaNode state.
    /// </summary>
    private static bool IsRuntimeLocal(IIncomingGrainCallContext context) =>
        context.InterfaceType.Equals(GrainTimerInterface) || SystemTargetGrainId.TryParse(context.TargetId, out _);

    private static readonly GrainInterfaceType GrainTimerInterface = GrainInterfaceType.Create("Orleans.Runtime.IGrainTimerInvoker");

    private Verified Verify(string? credential)
    {
        if (string.IsNullOrEmpty(credential))
        {
            return new Verified(null, "no credential");
        }

        if (_verified.TryGetValue(credential, out var known))
        {
            return known;
        }

        var result = authority.TryVerifySignature(credential, out var claims, out var error) ? new Verified(claims, string.Empty) : new Verified(null, error);
        if (_verified.Count >= MaxCachedCredentials)
        {
            _verified.Clear();
        }

        _verified.TryAdd(credential, result);
        return result;
    }

    private async Task RefuseAsync(IIncomingGrainCallContext context, AccessRequirement requirement, string? identity, string reason)
    {
        LogRefused(logger, requirement.Method, Target(context), identity ?? "anonymous", reason);
        await AppendAsync(context, requirement, identity, $"denied: {reason}").ConfigureAwait(false);
        throw new PermissionDeniedException(requirement.Method, requirement.Needs, reason);
    }

    private async Task InvokeAuditedAsync(IIncomingGrainCallContext context, AccessRequirement requirement, string identity, bool masks)
    {
        var outcome = "ok";
        try
        {
            await context.Invoke().ConfigureAwait(false);
            if (masks)
            {
                context.Result = SecretMasking.Mask(context.Result);
            }
        }
        catch (Exception ex)
        {
            outcome = $"failed: {ex.GetType().Name}";
            throw;
        }
        finally
        {
            await AppendAsync(context, requirement, identity, outcome).ConfigureAwait(false);
        }
    }

    private async Task AppendAsync(IIncomingGrainCallContext context, AccessRequirement requirement, string? identity, string outcome)
    {
        var entry = new AuditEntry
        {
            Time = time.GetUtcNow(),
            Identity = identity ?? "anonymous",
            Method = requirement.Method,
            Target = Target(context),
            Outcome = outcome,
        };
        try
        {
            await audit.AppendAsync(entry).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The call's own outcome stands; a lost audit line is logged loudly with everything it held.
            LogAuditFailed(logger, entry.Identity, entry.Method, entry.Target, entry.Outcome, ex);
        }
    }

    private static string Target(IIncomingGrainCallContext context) => context.TargetId.Key.ToString() ?? string.Empty;

    private sealed record Verified(CredentialClaims? Claims, string Error);
}

/// <summary>
/// Puts the cluster's internal token on every call this silo makes to a grain, and takes it (and any credential) off
/// calls to clients, so it never leaves the silos.
/// </summary>
public sealed class InternalCallFilter(AccessAuthority authority) : IOutgoingGrainCallFilter
{
    public Task Invoke(IOutgoingGrainCallContext context)
    {
        if (context.TargetId.IsClient())
        {
            RequestContext.Remove(AccessControlFilter.InternalKey);
            RequestContext.Remove(AccessCredential.RequestContextKey);
        }
        else
        {
            RequestContext.Set(AccessControlFilter.InternalKey, authority.InternalToken);
        }

        return context.Invoke();
    }
}
