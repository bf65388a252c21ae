using System.CommandLine;
using MetaNode.Client;

namespace MetaNode.Cli;

/// <summary>
/// The workload flags that <c>vpod create</c> and <c>cluster deploy</c> share: type, size, image, command, env, ports,
/// restart policy, deployment method, replicas and high availability (each command words and defaults these), and
/// persistent storage and network policy (defined once here, so both commands take exactly the same syntax).
/// <see cref="ApplyTo"/> hands every value to <see cref="VPodSpecBuilder"/>, the one parser, whose errors name the flag.
/// </summary>
internal sealed record WorkloadOptions(
    Option<string> Type,
    Option<string> Cpu,
    Option<string> Memory,
    Option<string?> Image,
    Option<string?> Command,
    Option<string[]> Env,
    Option<string[]> Port,
    Option<string> Restart,
    Option<string> Method,
    Option<string?> Replicas,
    Option<bool> HighAvailability)
{
    /// <summary><c>--storage SIZE[:CLASS]</c>: persistent storage of that size, from that storage class (docker: volume driver).</summary>
    public Option<string?> Storage { get; } = new(VPodSpecBuilder.Flags.Storage)
    {
        Description = "Persistent storage: SIZE or SIZE:CLASS (10Gi, 10Gi:fast-ssd); a cluster gives each member its own.",
        HelpName = "SIZE[:CLASS]",
    };

    /// <summary><c>--storage-mount PATH</c>: where the persistent storage is mounted.</summary>
    public Option<string?> StorageMount { get; } = new(VPodSpecBuilder.Flags.StorageMount)
    {
        Description = "Where persistent storage is mounted (default /vpod/data); needs --storage.",
        HelpName = "path",
    };

    /// <summary><c>--network-policy RULE</c>, repeatable: <c>deny-all</c>, <c>ingress:KEY=VALUE[,KEY=VALUE]</c>, <c>egress:CIDR|IP[:PORT]</c>.</summary>
    public Option<string[]> NetworkPolicy { get; } = new(VPodSpecBuilder.Flags.NetworkPolicy)
    {
        Description = "Network policy rule: deny-all, ingress:KEY=VALUE[,KEY=VALUE] (pods allowed in) or egress:CIDR|IP[:PORT] (addresses allowed out); "
            + "any rule denies everything else; repeatable (kubernetes only).",
        HelpName = "rule",
        AllowMultipleArgumentsPerToken = false,
    };

    public IEnumerable<Option> All => [Type, Cpu, Memory, Image, Command, Env, Port, Restart, Method, Replicas, HighAvailability, Storage, StorageMount, NetworkPolicy];

    /// <summary>Sets every workload flag given on the command line; bad values throw with the flag's name.</summary>
    public VPodSpecBuilder ApplyTo(VPodSpecBuilder builder, ParseResult parseResult)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(parseResult);
        builder
            .WithType(parseResult.GetValue(Type))
            .WithCpu(parseResult.GetValue(Cpu))
            .WithMemory(parseResult.GetValue(Memory))
            .WithRestartPolicy(parseResult.GetValue(Restart))
            .WithDeploymentMethod(parseResult.GetValue(Method))
            .WithHighAvailability(parseResult.GetValue(HighAvailability));
        if (parseResult.GetValue(Image) is { } image)
        {
            builder.WithImage(image);
        }

        if (parseResult.GetValue(Command) is { } command)
        {
            builder.WithCommand(command);
        }

        foreach (var value in parseResult.GetValue(Env) ?? [])
        {
            builder.AddEnv(value);
        }

        foreach (var value in parseResult.GetValue(Port) ?? [])
        {
            builder.AddPort(value);
        }

        if (parseResult.GetValue(Replicas) is { } replicas)
        {
            builder.WithReplicas(replicas);
        }

        if (parseResult.GetValue(Storage) is { } storage)
        {
            builder.WithStorage(storage);
        }

        if (parseResult.GetValue(StorageMount) is { } storageMount)
        {
            builder.WithStorageMount(storageMount);
        }

        foreach (var rule in parseResult.GetValue(NetworkPolicy) ?? [])
        {
            builder.AddNetworkPolicy(rule);
        }

        return builder;
    }
}
