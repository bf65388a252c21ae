namespace MetaNode.Silo.Ui;

/// <summary>
/// The Orleans Dashboard is a single-page app with no option for links of its own, so its index page is answered with a
/// "MetaNode" link to the view added: in its sidebar, under the dashboard's own menu (which the app renders into
/// <c>#menu</c>, leaving siblings alone), or, should the page change shape, fixed in a corner of the page.
/// </summary>
public static class DashboardLink
{
    public const string ElementId = "metanode-ui-link";

    private const string SidebarLink =
        "<div class=\"metanode-link\" style=\"padding:0.75rem 1rem;border-top:1px solid rgba(128,128,128,0.35);margin-top:0.5rem\">"
        + "<a id=\"" + ElementId + "\" class=\"nav-link\" href=\"/ui/vpods\" style=\"font-weight:600\">"
        + "<i class=\"nav-icon fa fa-server\" aria-hidden=\"true\"></i> MetaNode</a></div>";

    private const string FloatingLink =
        "<a id=\"" + ElementId + "\" href=\"/ui/vpods\" style=\"position:fixed;right:1rem;bottom:1rem;z-index:2000;padding:0.5rem 0.9rem;"
        + "border-radius:0.4rem;background:#1f4e79;color:#fff;font:600 14px sans-serif;text-decoration:none\">MetaNode</a>";

    /// <summary>Whether <paramref name="path"/> asks for the dashboard's index page (mounted at <paramref name="prefix"/>).</summary>
    public static bool IsIndex(string? path, string prefix) =>
        path is not null && (path == prefix || path == prefix + "/" || path == prefix + "/index.html");

    /// <summary>The page with the link added once; a page that already has it, or has neither a sidebar nor a body, is returned as it is.</summary>
    public static string Insert(string html)
    {
        ArgumentNullException.ThrowIfNull(html);
        if (html.Contains(ElementId, StringComparison.Ordinal))
        {
            return html;
        }

        var nav = html.IndexOf("</nav>", StringComparison.OrdinalIgnoreCase);
        if (nav >= 0)
        {
            return html.Insert(nav + "</nav>".Length, SidebarLink);
        }

        var body = html.LastIndexOf("</body>", StringComparison.OrdinalIgnoreCase);
        return body >= 0 ? html.Insert(body, FloatingLink) : html;
    }

    /// <summary>Rewrites the dashboard's index answer (a 200 with an HTML body); every other request passes untouched.</summary>
    public static Func<HttpContext, RequestDelegate, Task> Middleware(string prefix) => async (http, next) =>
    {
        if (!HttpMethods.IsGet(http.Request.Method) || !IsIndex(http.Request.Path.Value, prefix))
        {
            await next(http);
            return;
        }

        // The page is small: ask for it uncompressed, buffer it, and answer the changed page.
        http.Request.Headers.AcceptEncoding = "identity";
        http.Request.Headers.IfNoneMatch = default;
        http.Request.Headers.IfModifiedSince = default;
        var original = http.Response.Body;
        using var buffer = new MemoryStream();
        http.Response.Body = buffer;
        try
        {
            await next(http);
        }
        finally
        {
            http.Response.Body = original;
        }

        var bytes = buffer.ToArray();
        if (http.Response.StatusCode == StatusCodes.Status200OK
            && http.Response.ContentType?.StartsWith("text/html", StringComparison.OrdinalIgnoreCase) == true
            && string.IsNullOrEmpty(http.Response.Headers.ContentEncoding))
        {
            bytes = System.Text.Encoding.UTF8.GetBytes(Insert(System.Text.Encoding.UTF8.GetString(bytes)));
            http.Response.Headers.ETag = default;
            http.Response.Headers.LastModified = default;
            http.Response.Headers.CacheControl = "no-cache";
        }

        http.Response.ContentLength = bytes.Length;
        await original.WriteAsync(bytes, http.RequestAborted);
    };
}
