using System.Data.Common;
using Microsoft.Extensions.Options;

namespace MetaNode.Client;

/// <summary>Checks <see cref="MetaNodeClientOptions"/> and reports every problem, each naming the option and the bad value.</summary>
public sealed class MetaNodeClientOptionsValidator : IValidateOptions<MetaNodeClientOptions>
{
    private static readonly TimeSpan MaxConnectTimeout = TimeSpan.FromHours(1);

    public ValidateOptionsResult Validate(string? name, MetaNodeClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();

        if (string.IsNullOrWhiteSpace(options.ClusterId))
        {
            failures.Add($"{nameof(MetaNodeClientOptions.ClusterId)} must not be empty (was '{options.ClusterId}').");
        }

        if (string.IsNullOrWhiteSpace(options.ServiceId))
        {
            failures.Add($"{nameof(MetaNodeClientOptions.ServiceId)} must not be empty (was '{options.ServiceId}').");
        }

        if (options.ConnectTimeout <= TimeSpan.Zero || options.ConnectTimeout > MaxConnectTimeout)
        {
            failures.Add($"{nameof(MetaNodeClientOptions.ConnectTimeout)} must be positive and at most {MaxConnectTimeout} (was '{options.ConnectTimeout}').");
        }

        if (options.UsesDatabaseClustering)
        {
            try
            {
                _ = new DbConnectionStringBuilder { ConnectionString = options.ConnectionString };
            }
            catch (ArgumentException ex)
            {
                failures.Add($"{nameof(MetaNodeClientOptions.ConnectionString)} is not a valid connection string: {ex.Message}");
            }
        }
        else if (options.Gateways is null || options.Gateways.Count == 0)
        {
            failures.Add($"{nameof(MetaNodeClientOptions.Gateways)} must name at least one gateway as host:port, or set {nameof(MetaNodeClientOptions.ConnectionString)}.");
        }
        else
        {
            foreach (var gateway in options.Gateways)
            {
                if (!GatewayAddress.TryParse(gateway, out _, out var error))
                {
                    failures.Add($"{nameof(MetaNodeClientOptions.Gateways)}: {error}");
                }
            }
        }

        if (!string.IsNullOrWhiteSpace(options.Identity) && !MetaNode.Security.IdentityDirectory.Exists(options.Identity))
        {
            failures.Add($"{nameof(MetaNodeClientOptions.Identity)} '{options.Identity}' is not an identity directory (it needs identity.crt, identity.key, ca.crt and credential; `metanode-cli access grant --out DIR` makes one).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
