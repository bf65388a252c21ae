using MetaNode.Silo.Hosting;
using Microsoft.Extensions.Configuration;

namespace MetaNode.Tests.Hosting;

/// <summary>Secrets given as files: read when private, refused when missing, readable by anyone, empty or given twice.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SecretFilesTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("metanode-secrets-");

    public void Dispose() => _directory.Delete(recursive: true);

    private string Secret(string name, string content, UnixFileMode mode)
    {
        var path = Path.Combine(_directory.FullName, name);
        File.WriteAllText(path, content);
        File.SetUnixFileMode(path, mode);
        return path;
    }

    private static IConfiguration Config(params (string Key, string Value)[] pairs) =>
        new ConfigurationBuilder().AddInMemoryCollection(pairs.Select(p => new KeyValuePair<string, string?>(p.Key, p.Value))).Build();

    [Fact]
    public void APrivateFile_GivesTheValue_WithoutItsTrailingLineBreak()
    {
        var path = Secret("db", "Host=127.0.0.1;Password=s3cret\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var group = Secret("key", "0xabc", UnixFileMode.UserRead | UnixFileMode.GroupRead);
        var (values, failures) = SecretFiles.Read(Config(("MetaNode:Database:ConnectionStringFile", path), ("MetaNode:Chain:AccountPrivateKeyFile", group)));
        Assert.Empty(failures);
        Assert.Equal("Host=127.0.0.1;Password=s3cret", values["MetaNode:Database:ConnectionString"]);
        Assert.Equal("0xabc", values["MetaNode:Chain:AccountPrivateKey"]);
    }

    [Fact]
    public void AWorldReadableMissingOrEmptyFile_OrASecretGivenTwice_IsRefused_AndGivesNothing()
    {
        var open = Secret("open", "pw", UnixFileMode.UserRead | UnixFileMode.OtherRead);
        var empty = Secret("empty", "\n", UnixFileMode.UserRead);
        var twice = Secret("twice", "pw", UnixFileMode.UserRead);
        var (values, failures) = SecretFiles.Read(Config(
            ("MetaNode:Database:ConnectionStringFile", open),
            ("MetaNode:Chain:AccountPrivateKeyFile", empty),
            ("MetaNode:Chain:KeystorePasswordFile", twice),
            ("MetaNode:Chain:KeystorePassword", "inline")));
        Assert.Empty(values);
        Assert.Contains(failures, f => f.Contains("may be read or written by any user", StringComparison.Ordinal) && f.Contains(open, StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("is empty", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("both directly and as", StringComparison.Ordinal));

        var (_, missing) = SecretFiles.Read(Config(("MetaNode:Database:ConnectionStringFile", Path.Combine(_directory.FullName, "nope"))));
        Assert.Contains("does not exist", Assert.Single(missing), StringComparison.Ordinal);
    }
}
