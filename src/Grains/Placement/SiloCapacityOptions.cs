using MetaNode.Placement;
using MetaNode.VPods;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Placement;

/// <summary>What this silo offers to vPods. Section <c>MetaNode:Capacity</c>; unset values default to the machine's cores and memory.</summary>
public sealed class SiloCapacityOptions
{
    public const string SectionName = "MetaNode:Capacity";

    /// <summary>Cores (<c>4</c>, <c>0.5</c>) or millicores (<c>4000m</c>).</summary>
    public string? Cpu { get; set; }

    /// <summary>Memory: <c>8Gi</c>, <c>512Mi</c> or bytes.</summary>
    public string? Memory { get; set; }

    /// <summary>The parsed capacity (call after validation).</summary>
    public SiloCapacity ToCapacity() => new(
        string.IsNullOrWhiteSpace(Cpu) ? Environment.ProcessorCount * 1000L : ResourceQuantity.ParseCpu(Cpu),
        string.IsNullOrWhiteSpace(Memory) ? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes : ResourceQuantity.ParseMemory(Memory));
}

public sealed class SiloCapacityOptionsValidator : IValidateOptions<SiloCapacityOptions>
{
    public ValidateOptionsResult Validate(string? name, SiloCapacityOptions options)
    {
        var failures = new List<string>();
        if (!string.IsNullOrWhiteSpace(options.Cpu) && !ResourceQuantity.TryParseCpu(options.Cpu, out _, out var cpuError))
        {
            failures.Add($"{SiloCapacityOptions.SectionName}:Cpu: {cpuError}");
        }

        if (!string.IsNullOrWhiteSpace(options.Memory) && !ResourceQuantity.TryParseMemory(options.Memory, out _, out var memoryError))
        {
            failures.Add($"{SiloCapacityOptions.SectionName}:Memory: {memoryError}");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
