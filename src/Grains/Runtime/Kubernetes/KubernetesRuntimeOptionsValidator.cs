using System.Globalization;
using MetaNode.VPods;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Runtime.Kubernetes;

/// <summary>Checks <see cref="KubernetesRuntimeOptions"/>, reporting every bad setting with its key and value. A section left empty is valid: the runtime then says what is missing when a vPod uses it.</summary>
public sealed class KubernetesRuntimeOptionsValidator : IValidateOptions<KubernetesRuntimeOptions>
{
    private const string Prefix = KubernetesRuntimeOptions.SectionName + ":";

    public ValidateOptionsResult Validate(string? name, KubernetesRuntimeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (!Enum.IsDefined(options.Connection))
        {
            failures.Add($"{Prefix}{nameof(options.Connection)} must be Auto, InCluster, KubeConfig or BaseUrl; got '{options.Connection}'.");
        }

        if (!string.IsNullOrWhiteSpace(options.BaseUrl)
            && !(Uri.TryCreate(options.BaseUrl, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            failures.Add($"{Prefix}{nameof(options.BaseUrl)} must be an absolute http or https URL; got '{options.BaseUrl}'.");
        }

        if (options.Connection == KubernetesConnection.BaseUrl && string.IsNullOrWhiteSpace(options.BaseUrl))
        {
            failures.Add($"{Prefix}{nameof(options.BaseUrl)} is required when {Prefix}{nameof(options.Connection)} is BaseUrl.");
        }

        if (!string.IsNullOrWhiteSpace(options.Namespace) && !KubernetesNames.IsDnsLabel(options.Namespace))
        {
            failures.Add($"{Prefix}{nameof(options.Namespace)} must be a DNS label (lower-case letters, digits, '-', at most 63); got '{options.Namespace}'.");
        }

        if (!string.IsNullOrWhiteSpace(options.SiloNamespace) && !KubernetesNames.IsDnsLabel(options.SiloNamespace))
        {
            failures.Add($"{Prefix}{nameof(options.SiloNamespace)} must be a DNS label (lower-case letters, digits, '-', at most 63); got '{options.SiloNamespace}'.");
        }

        if (!string.IsNullOrWhiteSpace(options.Namespace) && options.Namespace == options.SiloNamespace)
        {
            failures.Add($"{Prefix}{nameof(options.Namespace)} must not be the silos' namespace ({Prefix}{nameof(options.SiloNamespace)}): vPods run in a namespace of their own; got '{options.Namespace}' for both.");
        }

        if (options.RunAsUser is < 1 or > int.MaxValue)
        {
            failures.Add($"{Prefix}{nameof(options.RunAsUser)} must be a non-root user id (1-{int.MaxValue.ToString(CultureInfo.InvariantCulture)}); got '{options.RunAsUser.ToString(CultureInfo.InvariantCulture)}'.");
        }

        if (!KubernetesNames.IsDnsSubdomain(options.LabelPrefix))
        {
            failures.Add($"{Prefix}{nameof(options.LabelPrefix)} must be a DNS subdomain such as 'metanode.io'; got '{options.LabelPrefix}'.");
        }

        if (!string.IsNullOrWhiteSpace(options.DefaultStorageClass) && !KubernetesNames.IsDnsSubdomain(options.DefaultStorageClass))
        {
            failures.Add($"{Prefix}{nameof(options.DefaultStorageClass)} must be a storage class name; got '{options.DefaultStorageClass}'.");
        }

        if (!Enum.IsDefined(options.AntiAffinity))
        {
            failures.Add($"{Prefix}{nameof(options.AntiAffinity)} must be Preferred or Required; got '{options.AntiAffinity}'.");
        }

        if (!KubernetesNames.IsLabelKey(options.TopologyKey))
        {
            failures.Add($"{Prefix}{nameof(options.TopologyKey)} must be a node label key; got '{options.TopologyKey}'.");
        }

        if (!Enum.IsDefined(options.DeletePropagation))
        {
            failures.Add($"{Prefix}{nameof(options.DeletePropagation)} must be Background or Foreground; got '{options.DeletePropagation}'.");
        }

        if (!string.IsNullOrWhiteSpace(options.SiloSelector))
        {
            if (!KubernetesNames.TryParseSelector(options.SiloSelector, out var silos, out var error))
            {
                failures.Add($"{Prefix}{nameof(options.SiloSelector)} {error}");
            }
            else if (silos.Keys.FirstOrDefault(key => !VPodLabels.IsReserved(key)) is { } open)
            {
                failures.Add($"{Prefix}{nameof(options.SiloSelector)} must select on reserved label keys only (prefixes {string.Join(", ", VPodLabels.ReservedPrefixes)}), which no vPod can carry; '{open}' in '{options.SiloSelector}' is not.");
            }
        }

        if (options.TerminationGracePeriodSeconds is < 0 or > 3600)
        {
            failures.Add($"{Prefix}{nameof(options.TerminationGracePeriodSeconds)} must be 0-3600; got '{options.TerminationGracePeriodSeconds.ToString(CultureInfo.InvariantCulture)}'.");
        }

        CheckDuration(failures, nameof(options.WatchTimeout), options.WatchTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
        CheckDuration(failures, nameof(options.SyncTimeout), options.SyncTimeout, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(5));
        CheckDuration(failures, nameof(options.RetryDelay), options.RetryDelay, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(5));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckDuration(List<string> failures, string key, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            failures.Add($"{Prefix}{key} must be between {min.ToString("c", CultureInfo.InvariantCulture)} and {max.ToString("c", CultureInfo.InvariantCulture)}; got '{value.ToString("c", CultureInfo.InvariantCulture)}'.");
        }
    }
}
