using System.CommandLine;
using MetaNode.Client;

namespace MetaNode.Cli;

/// <summary>
/// The workload flags that <c>vpod create</c> and <c>cluster deploy</c> share (type, size, image, command, env, ports,
/// restart policy, deployment method). Each command words and defaults its own options; this applies them alike.
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
    Option<string> Method)
{
    public IEnumerable<Option> All => [Type, Cpu, Memory, Image, Command, Env, Port, Restart, Method];

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
            .WithDeploymentMethod(parseResult.GetValue(Method));
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

        return builder;
    }
}
