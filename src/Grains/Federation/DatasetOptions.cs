using MetaNode.Federation;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Federation;

/// <summary>Which data sets the silo reads, section <c>MetaNode:Datasets</c>.</summary>
public sealed class DatasetOptions
{
    public const string SectionName = "MetaNode:Datasets";

    /// <summary>
    /// The only directory whose files a job may name (by a path relative to it). Unset: the silo opens no path a job names, only
    /// uploads (<c>sha256:HEX</c>) and the built-in sets.
    /// </summary>
    public string? Root { get; set; }

    /// <summary>The largest data set the silo accepts: an upload, a file under <see cref="Root"/>, or the CSV text inside a gzip file. Default 64 MiB.</summary>
    public long MaxUploadBytes { get; set; } = DatasetFiles.DefaultMaxBytes;
}

public sealed class DatasetOptionsValidator : IValidateOptions<DatasetOptions>
{
    public const long MinBytes = 1024;
    private const string Prefix = DatasetOptions.SectionName + ":";

    public ValidateOptionsResult Validate(string? name, DatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.MaxUploadBytes < MinBytes || options.MaxUploadBytes > DatasetFiles.MaxConfigurableBytes)
        {
            failures.Add($"{Prefix}{nameof(options.MaxUploadBytes)} must be {MinBytes} to {DatasetFiles.MaxConfigurableBytes} bytes (an upload travels in one grain call, under Orleans's message size limit); got '{options.MaxUploadBytes}'.");
        }

        if (!string.IsNullOrWhiteSpace(options.Root) && (!Path.IsPathFullyQualified(options.Root) || !Directory.Exists(options.Root)))
        {
            failures.Add($"{Prefix}{nameof(options.Root)} must be the absolute path of an existing directory; got '{options.Root}'.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
