namespace MetaNode.Chain;

/// <summary>How an RPC URL is shown and logged: without credentials, query or any path segment that looks like an API key.</summary>
public static class RpcUrls
{
    /// <summary>
    /// Drops the user-info part, the query and the fragment, and replaces every path segment of 16 or more characters
    /// that mixes letters and digits (the way providers put API keys in paths, e.g. <c>/v3/&lt;key&gt;</c>) with <c>***</c>.
    /// A value that is no absolute URL is shown as <c>***</c>.
    /// </summary>
    public static string Redact(string? url)
    {
        if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return "***";
        }

        // A bare host keeps its form (no "/" added that the configuration did not have).
        var path = uri.AbsolutePath == "/" && !uri.OriginalString.TrimEnd().EndsWith('/') ? string.Empty : uri.AbsolutePath;
        var segments = path.Split('/').Select(s => LooksSecret(s) ? "***" : s);
        var port = uri.IsDefaultPort ? string.Empty : $":{uri.Port}";
        var query = string.IsNullOrEmpty(uri.Query) ? string.Empty : "?***";
        var user = string.IsNullOrEmpty(uri.UserInfo) ? string.Empty : "***@";
        return $"{uri.Scheme}://{user}{uri.Host}{port}{string.Join('/', segments)}{query}";
    }

    private static bool LooksSecret(string segment) =>
        segment.Length >= 16 && segment.Any(char.IsAsciiDigit) && segment.Any(char.IsAsciiLetter);
}
