using System.Collections.Concurrent;
using System.Reflection;
using MetaNode.Security;

namespace MetaNode.Grains.Security;

/// <summary>What a client needs to call one grain method, read from its interface's declaration.</summary>
/// <param name="Method"><c>Interface.Method</c>, as refusals and the audit log name it.</param>
/// <param name="Role">The role needed; <see cref="AccessRole.None"/> when no client may call it.</param>
/// <param name="SiloOnly">Declared for silos only.</param>
/// <param name="Mutates">A successful call changes something and is audited.</param>
public sealed record AccessRequirement(string Method, AccessRole Role, bool SiloOnly, bool Mutates)
{
    /// <summary>The method returns a vPod or cluster status, whose environment values only admins see.</summary>
    public bool ReturnsEnvironment { get; init; }

    /// <summary>How a refusal names what was needed.</summary>
    public string Needs => SiloOnly || Role == AccessRole.None ? "a silo" : AccessCredential.Role(Role);
}

/// <summary>The outcome of checking one client call.</summary>
public readonly record struct AccessDecision(bool Allowed, string Reason)
{
    public static AccessDecision Allow() => new(true, string.Empty);

    public static AccessDecision Deny(string reason) => new(false, reason);
}

/// <summary>Pure decisions: which role a method needs, and whether a verified caller has it.</summary>
public static class AccessPolicy
{
    private static readonly ConcurrentDictionary<MethodInfo, AccessRequirement> Requirements = new();

    /// <summary>
    /// Orleans' own extension through which a client walks an <see cref="IAsyncEnumerable{T}"/> a grain method returned
    /// (log following): the method that started it was checked, so walking it needs only a viewer.
    /// </summary>
    private const string AsyncEnumerableExtension = "Orleans.Runtime.IAsyncEnumerableGrainExtension";

    /// <summary>The requirement declared for <paramref name="method"/> (cached): the method's attribute, else its interface's, else refused to every client.</summary>
    public static AccessRequirement For(MethodInfo method) => Requirements.GetOrAdd(method, Read);

    /// <summary>Decides a client call: a valid, unrevoked credential whose role reaches the one required.</summary>
    /// <param name="claims">The caller's verified claims, or null with <paramref name="credentialError"/> saying why there are none.</param>
    public static AccessDecision Decide(AccessRequirement requirement, CredentialClaims? claims, bool revoked, string credentialError)
    {
        if (requirement.SiloOnly || requirement.Role == AccessRole.None)
        {
            return AccessDecision.Deny("only silos call it");
        }

        if (claims is null)
        {
            return AccessDecision.Deny(string.IsNullOrEmpty(credentialError) ? "no credential" : credentialError);
        }

        if (revoked)
        {
            return AccessDecision.Deny($"identity '{claims.Name}' is revoked");
        }

        if (claims.Kind != CredentialClaims.ClientKind)
        {
            return AccessDecision.Deny($"a {claims.Kind} token of '{claims.Name}' is for the silo's pages, not for calls");
        }

        return claims.Role >= requirement.Role
            ? AccessDecision.Allow()
            : AccessDecision.Deny($"'{claims.Name}' is {AccessCredential.Role(claims.Role)}");
    }

    private static AccessRequirement Read(MethodInfo method)
    {
        var type = method.DeclaringType;
        var name = $"{type?.Name}.{method.GetCustomAttribute<AliasAttribute>()?.Alias ?? TrimAsync(method.Name)}";
        if (type?.FullName == AsyncEnumerableExtension)
        {
            return new AccessRequirement(name, AccessRole.Viewer, SiloOnly: false, Mutates: false);
        }

        if (type == typeof(IManagementGrain))
        {
            // Orleans' own management API (hosts, activations, forced deactivation): for admins and their tools.
            return new AccessRequirement(name, AccessRole.Admin, SiloOnly: false, Mutates: false);
        }

        if (method.GetCustomAttribute<SiloOnlyAttribute>() is not null || type?.GetCustomAttribute<SiloOnlyAttribute>() is not null)
        {
            return new AccessRequirement(name, AccessRole.None, SiloOnly: true, Mutates: false);
        }

        var declared = method.GetCustomAttribute<RequiresRoleAttribute>() ?? type?.GetCustomAttribute<RequiresRoleAttribute>();
        return declared is null
            ? new AccessRequirement(name, AccessRole.None, SiloOnly: true, Mutates: false)
            : new AccessRequirement(name, declared.Role, SiloOnly: false, declared.Mutates)
            {
                ReturnsEnvironment = method.ReturnType == typeof(Task<MetaNode.VPods.VPodStatus>)
                    || method.ReturnType == typeof(Task<MetaNode.VPods.TaggedVPodStatus>)
                    || method.ReturnType == typeof(Task<MetaNode.Clusters.ClusterStatus>),
            };
    }

    private static string TrimAsync(string name) => name.EndsWith("Async", StringComparison.Ordinal) ? name[..^5] : name;
}

/// <summary>What a caller below admin sees of a status: every environment value replaced by <c>***</c> (the names stay).</summary>
public static class SecretMasking
{
    public const string Masked = "***";

    public static object? Mask(object? result) => result switch
    {
        MetaNode.VPods.VPodStatus { Spec: { Env.Count: > 0 } spec } status => status with { Spec = spec with { Env = MaskValues(spec.Env) } },
        MetaNode.VPods.TaggedVPodStatus tagged when Mask(tagged.Status) is MetaNode.VPods.VPodStatus masked && !ReferenceEquals(masked, tagged.Status) => tagged with { Status = masked },
        MetaNode.Clusters.ClusterStatus { Spec: { Env.Count: > 0 } spec } status => status with { Spec = spec with { Env = MaskValues(spec.Env) } },
        _ => result,
    };

    private static Dictionary<string, string> MaskValues(IReadOnlyDictionary<string, string> env) => env.ToDictionary(e => e.Key, _ => Masked);
}
