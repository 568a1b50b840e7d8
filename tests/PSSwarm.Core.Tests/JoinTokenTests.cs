using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using PSSwarm.Core.Security;

namespace PSSwarm.Core.Tests;

public class JoinTokenTests
{
    private static readonly RootCA Ca = RootCA.Create();
    private static readonly RootCA OtherCa = RootCA.Create();

    /// <summary>Independent reference: Go's big.Int.Text(36) via System.Numerics.BigInteger.</summary>
    private static string ReferenceBase36(byte[] bigEndian, int pad)
    {
        var n = new BigInteger(bigEndian, isUnsigned: true, isBigEndian: true);
        const string digits = "0123456789abcdefghijklmnopqrstuvwxyz";
        var sb = new StringBuilder();
        while (n > 0)
        {
            sb.Insert(0, digits[(int)(n % 36)]);
            n /= 36;
        }
        if (sb.Length == 0) sb.Append('0');
        return sb.ToString().PadLeft(pad, '0');
    }

    private static string ValidDigest => JoinToken.DigestOf(Ca.CertificatePemBytes);
    private static string ValidSecret => JoinToken.NewSecret();

    [Fact]
    public void Generate_HasDockerShapeAnd85Chars()
    {
        var token = JoinToken.Generate(Ca.CertificatePemBytes);
        Assert.Equal(85, token.Length);
        Assert.Matches(new Regex("^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$"), token);
    }

    [Fact]
    public void Digest_IsBase36OfSha256OfExactPemBytes()
    {
        var expected = ReferenceBase36(SHA256.HashData(Ca.CertificatePemBytes), 50);
        Assert.Equal(expected, JoinToken.DigestOf(Ca.CertificatePemBytes));
        var token = JoinToken.Parse(JoinToken.Generate(Ca.CertificatePemBytes));
        Assert.Equal(expected, token.Digest);
        // A single changed byte (e.g. a CRLF PEM) gives another digest.
        var crlf = Encoding.UTF8.GetBytes(Ca.CertificatePem.Replace("\n", "\r\n"));
        Assert.NotEqual(expected, JoinToken.DigestOf(crlf));
    }

    [Fact]
    public void Digest_OfSmallHashIsZeroPadded()
    {
        // Base36 padding is what keeps the token length fixed: check it directly.
        var small = new byte[32];
        small[31] = 35;
        Assert.Equal(new string('0', 49) + "z", Base36.Encode(small, 50));
        Assert.Equal("0", Base36.Encode(new byte[32]));
        Assert.Equal("0000", Base36.Encode([], 4));
        Assert.Equal("100", Base36.Encode([0x05, 0x10])); // 1296 = 36^2
    }

    [Fact]
    public void Base36_MatchesBigIntegerOnRandomValues()
    {
        for (int i = 0; i < 200; i++)
        {
            var bytes = RandomNumberGenerator.GetBytes(1 + i % 40);
            var text = Base36.Encode(bytes);
            Assert.Equal(ReferenceBase36(bytes, 0), text);
            Assert.True(Base36.TryDecode(text.ToUpperInvariant(), out var back));
            Assert.Equal(new BigInteger(bytes, true, true), new BigInteger(back, true, true));
        }
        Assert.False(Base36.TryDecode("abc-def", out _));
        Assert.False(Base36.TryDecode("", out _));
    }

    [Fact]
    public void Secrets_AreRandomAndWellFormed()
    {
        var secrets = Enumerable.Range(0, 100).Select(_ => JoinToken.NewSecret()).ToList();
        Assert.All(secrets, s => Assert.Matches("^[0-9a-z]{25}$", s));
        Assert.Equal(secrets.Count, secrets.Distinct().Count());
        var a = JoinToken.Generate(Ca.CertificatePemBytes);
        var b = JoinToken.Generate(Ca.CertificatePemBytes);
        Assert.NotEqual(a, b);
        Assert.Equal(a[..60], b[..60]); // same prefix and digest, different secret
    }

    [Fact]
    public void Parse_RoundTripsV1()
    {
        var text = JoinToken.Generate(Ca.CertificatePemBytes);
        var token = JoinToken.Parse(text);
        Assert.Equal(1, token.Version);
        Assert.False(token.Fips);
        Assert.Equal(text, token.ToString());
        Assert.Equal(text[9..59], token.Digest);
        Assert.Equal(text[60..], token.Secret);
        Assert.True(JoinToken.TryParse(text, out var again));
        Assert.Equal(text, again!.ToString());
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("0", false)]
    public void Parse_AcceptsV2(string fipsPart, bool fips)
    {
        var text = $"SWMTKN-2-{fipsPart}-{ValidDigest}-{ValidSecret}";
        var token = JoinToken.Parse(text);
        Assert.Equal(2, token.Version);
        Assert.Equal(fips, token.Fips);
        Assert.Equal(text, token.ToString());
        Assert.True(token.MatchesRootCA(Ca.CertificatePemBytes));
    }

    public static TheoryData<string?> InvalidTokens()
    {
        var d = JoinToken.DigestOf(Ca.CertificatePemBytes);
        var s = JoinToken.NewSecret();
        return new TheoryData<string?>
        {
            "invalidtoken",
            $"SWMTKN-1-{d}-{s[..24]}",              // 24-char secret
            $"SWMTKN-2-{d}-{s}",                    // v2 with only 4 parts
            $"SWMTKN-0-{d}-{s}",                    // unknown version
            "",
            null,
            $"SWMTKX-1-{d}-{s}",                    // wrong prefix
            $"swmtkn-1-{d}-{s}",                    // prefix is case-sensitive
            $"SWMTKN-1-{d[..49]}-{s}",              // 49-char digest
            $"SWMTKN-1-{d}0-{s}",                   // 51-char digest
            $"SWMTKN-1-{d}-{s}0",                   // 26-char secret
            $"SWMTKN-2-2-{d}-{s}",                  // v2 with part2 not 0|1
            $"SWMTKN-2-1-{d}-{s}-x",                // v2 with 6 parts
            $"SWMTKN-1-x-{d}-{s}",                  // v1 with 5 parts
            $"SWMTKN-3-{d}-{s}",
            "SWMTKN-1-",
            $"SWMTKN-1-{d[..49]}_-{s}",             // bad digest character
            $"SWMTKN-1-{d}-{s[..24]}!",             // bad secret character
            $"SWMTKN-1-{new string('z', 50)}-{s}",  // digest above 2^256
            $" SWMTKN-1-{d}-{s}",                   // whitespace is not trimmed
        };
    }

    [Theory]
    [MemberData(nameof(InvalidTokens))]
    public void Parse_RejectsInvalid(string? text)
    {
        var e = Assert.Throws<FormatException>(() => JoinToken.Parse(text!));
        Assert.Equal("invalid join token", e.Message);
        Assert.False(JoinToken.TryParse(text, out var token));
        Assert.Null(token);
    }

    [Fact]
    public void MatchesRootCA_OnlyForTheRightPem()
    {
        var token = JoinToken.Parse(JoinToken.Generate(Ca.CertificatePemBytes));
        Assert.True(token.MatchesRootCA(Ca.CertificatePemBytes));
        Assert.False(token.MatchesRootCA(OtherCa.CertificatePemBytes));
        Assert.False(token.MatchesRootCA(Encoding.UTF8.GetBytes(Ca.CertificatePem.TrimEnd('\n'))));
    }

    [Fact]
    public void MatchesRootCA_AcceptsUpperCaseDigest()
    {
        var upper = $"SWMTKN-1-{ValidDigest.ToUpperInvariant()}-{ValidSecret}";
        var token = JoinToken.Parse(upper);
        Assert.True(token.MatchesRootCA(Ca.CertificatePemBytes));
        Assert.Equal(upper, token.ToString());
    }

    [Fact]
    public void ExpectedSha256Hex_IsTheDigestInHex()
    {
        var token = JoinToken.Parse(JoinToken.Generate(Ca.CertificatePemBytes));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Ca.CertificatePemBytes)), token.ExpectedSha256Hex);
        Assert.Equal(Ca.Sha256Hex, token.ExpectedSha256Hex);

        var zeroDigest = JoinToken.Parse($"SWMTKN-1-{new string('0', 49)}f-{ValidSecret}");
        Assert.Equal(new string('0', 63) + "f", zeroDigest.ExpectedSha256Hex);
    }

    [Fact]
    public void ConstantTimeEquals_Works()
    {
        var a = JoinToken.Generate(Ca.CertificatePemBytes);
        Assert.True(JoinToken.ConstantTimeEquals(a, new string(a.ToCharArray())));
        Assert.False(JoinToken.ConstantTimeEquals(a, JoinToken.Generate(Ca.CertificatePemBytes)));
        Assert.False(JoinToken.ConstantTimeEquals(a, a[..84]));
        Assert.False(JoinToken.ConstantTimeEquals(a, null));
        Assert.False(JoinToken.ConstantTimeEquals(null, a));
        Assert.False(JoinToken.ConstantTimeEquals(null, null));
        Assert.True(JoinToken.ConstantTimeEquals("", ""));
    }
}
