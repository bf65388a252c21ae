namespace MetaNode.Security;

/// <summary>What a client identity may do. Each role includes the ones below it.</summary>
[GenerateSerializer, Alias("MetaNode.Security.AccessRole")]
public enum AccessRole
{
    None = 0,

    /// <summary>Reads everything: status, lists, logs, metrics, results, chain status.</summary>
    Viewer = 1,

    /// <summary>Manages vPods, clusters and jobs.</summary>
    Operator = 2,

    /// <summary>Chain deploy, rotation and re-submission, access and audit, cluster reconciliation.</summary>
    Admin = 3,
}

/// <summary>The role a client needs to call a grain method (or, on an interface, each of its methods that says nothing itself).</summary>
/// <remarks>Checked by the silo's incoming call filter for every call that comes from a client; silo-internal calls are not checked.</remarks>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Interface, Inherited = false)]
public sealed class RequiresRoleAttribute(AccessRole role) : Attribute
{
    public AccessRole Role { get; } = role;

    /// <summary>True when the method changes something (it is audited); reads are not.</summary>
    public bool Mutates { get; init; }
}

/// <summary>Only silos call this method (or every method of this interface): every client is refused, whatever its role.</summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Interface, Inherited = false)]
public sealed class SiloOnlyAttribute : Attribute
{
}

/// <summary>The caller's identity lacks the role a method needs, or has none that counts; nothing was changed.</summary>
[GenerateSerializer, Alias("MetaNode.Security.PermissionDeniedException")]
public sealed class PermissionDeniedException : Exception
{
    public PermissionDeniedException(string method, string needs, string reason)
        : base($"permission denied: {method} needs {needs}{(string.IsNullOrEmpty(reason) ? string.Empty : $" ({reason})")}")
    {
        Method = method;
        Needs = needs;
        Reason = reason;
    }

    [Id(0)] public string Method { get; }

    /// <summary><c>viewer</c>, <c>operator</c>, <c>admin</c> or <c>a silo</c>.</summary>
    [Id(1)] public string Needs { get; }

    [Id(2)] public string Reason { get; }
}

/// <summary>An access request was refused (a bad name, an unknown identity, an unusable key); nothing changed.</summary>
[GenerateSerializer, Alias("MetaNode.Security.InvalidAccessRequestException")]
public sealed class InvalidAccessRequestException(string message) : Exception(message)
{
}
