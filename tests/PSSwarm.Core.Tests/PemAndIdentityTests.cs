using System.Security.Cryptography;
using PSSwarm.Core.Security;

namespace PSSwarm.Core.Tests;

public class PemTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(47)]
    [InlineData(48)]   // exactly one 64-char line
    [InlineData(49)]
    [InlineData(96)]
    [InlineData(500)]
    public void Encode_IsDockerExact(int size)
    {
        var der = RandomNumberGenerator.GetBytes(size);
        var pem = Pem.Encode("CERTIFICATE", der);

        Assert.DoesNotContain('\r', pem);
        Assert.StartsWith("-----BEGIN CERTIFICATE-----\n", pem);
        Assert.EndsWith("\n-----END CERTIFICATE-----\n", pem);
        var lines = pem.Split('\n');
        Assert.Equal("", lines[^1]); // trailing LF
        var body = lines[1..^2];
        Assert.Equal((size + 47) / 48, body.Length);
        if (body.Length > 0)
        {
            Assert.All(body[..^1], l => Assert.Equal(64, l.Length));
            Assert.InRange(body[^1].Length, 1, 64);
        }
        Assert.Equal(Convert.ToBase64String(der), string.Concat(body));
        Assert.Equal(der, Pem.Decode(pem, "CERTIFICATE"));
    }

    [Fact]
    public void Decode_FindsTheLabelledBlockAndToleratesCrlf()
    {
        var key = RandomNumberGenerator.GetBytes(100);
        var cert = RandomNumberGenerator.GetBytes(300);
        var text = Pem.Encode("PRIVATE KEY", key) + Pem.Encode("CERTIFICATE", cert);
        Assert.Equal(cert, Pem.Decode(text, "CERTIFICATE"));
        Assert.Equal(key, Pem.Decode(text.Replace("\n", "\r\n"), "PRIVATE KEY"));
        Assert.Throws<FormatException>(() => Pem.Decode(text, "EC PRIVATE KEY"));
        Assert.Throws<FormatException>(() => Pem.Decode("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n", "CERTIFICATE"));
    }

    [Fact]
    public void Decode_ReturnsTheFirstBlock()
    {
        var a = RandomNumberGenerator.GetBytes(64);
        var b = RandomNumberGenerator.GetBytes(64);
        Assert.Equal(a, Pem.Decode(Pem.Encode("CERTIFICATE", a) + Pem.Encode("CERTIFICATE", b), "CERTIFICATE"));
    }
}

public class IdentityTests
{
    [Fact]
    public void NewId_Is25Base36Chars()
    {
        for (int i = 0; i < 200; i++) Assert.Matches("^[0-9a-z]{25}$", Identity.NewId());
    }

    [Fact]
    public void NewId_IsUnique()
    {
        var ids = Enumerable.Range(0, 1000).Select(_ => Identity.NewId()).ToHashSet();
        Assert.Equal(1000, ids.Count);
    }
}
