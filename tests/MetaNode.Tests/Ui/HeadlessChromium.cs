using Microsoft.Playwright;

namespace MetaNode.Tests.Ui;

/// <summary>
/// Debian's Chromium (<c>/usr/bin/chromium</c>, which <c>.ci/run</c> installs) driven headless by Playwright. Playwright's
/// driver and its Node.js come with the NuGet package and are copied into the test output by the build; no browser is
/// downloaded (<c>playwright install</c> is never run) and the browser reaches nothing but the loopback silo.
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private static readonly string[] Arguments =
    [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    ];

    private readonly IPlaywright _playwright;

    private HeadlessChromium(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Browser = browser;
    }

    public IBrowser Browser { get; }

    public static async Task<HeadlessChromium> LaunchAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException($"{ExecutablePath} is missing: the browser tests need Debian's chromium package (apt-get install chromium; .ci/run installs it).");
        }

        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ExecutablePath,
                Args = Arguments,
                Headless = true,
                Timeout = 60_000,
            });
            return new HeadlessChromium(playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    /// <summary>A fresh browser context (no cookies) on a wide page; every request to an address other than <paramref name="site"/> is refused.</summary>
    public async Task<IPage> NewPageAsync(Uri site)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = site.ToString(),
            ViewportSize = new ViewportSize { Width = 1500, Height = 900 },
            Locale = "en-US",
            TimezoneId = "UTC",
        });
        context.SetDefaultTimeout(30_000);
        var origin = site.GetLeftPart(UriPartial.Authority);
        await context.RouteAsync("**/*", route => route.Request.Url.StartsWith(origin, StringComparison.Ordinal) || route.Request.Url.StartsWith("data:", StringComparison.Ordinal)
            ? route.ContinueAsync()
            : route.AbortAsync("blockedbyclient"));
        return await context.NewPageAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        _playwright.Dispose();
    }
}

/// <summary>Full-page screenshots kept as test artifacts: <c>$TEST_RESULTS_DIR/ui-screenshots</c> (scripts/test.sh sets it), else <c>TestResults/ui-screenshots</c> in the test output.</summary>
public static class UiScreenshots
{
    public static string Directory
    {
        get
        {
            var results = Environment.GetEnvironmentVariable("TEST_RESULTS_DIR") is { Length: > 0 } configured
                ? configured
                : Path.Combine(AppContext.BaseDirectory, "TestResults");
            return Path.Combine(results, "ui-screenshots");
        }
    }

    /// <summary>Saves the page as <c>{name}.png</c> and checks it is a real PNG of a drawn page (not an empty one).</summary>
    public static async Task<string> SaveAsync(IPage page, string name)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var path = Path.Combine(Directory, name + ".png");
        File.Delete(path);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        var bytes = await File.ReadAllBytesAsync(path);
        Assert.True(bytes.Length > 15_000, $"{path} is only {bytes.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a }, bytes[..8]);
        var width = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16, 4));
        var height = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20, 4));
        Assert.True(width >= 1000 && height >= 400, $"{path} is {width}x{height}");
        return path;
    }
}
