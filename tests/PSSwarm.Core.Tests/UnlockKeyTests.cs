using System.Security.Cryptography;
using PSSwarm.Core.Security;

namespace PSSwarm.Core.Tests;

/// <summary>The unlock key's format (Docker's), the key derivation and the sealed blobs of autolock.</summary>
public class UnlockKeyTests
{
    [Fact]
    public void Generate_GivesDockersFormat_52Characters_32RandomBytes()
    {
        var a = UnlockKey.Generate();
        var b = UnlockKey.Generate();
        Assert.Matches("^SWMKEY-1-[A-Za-z0-9+/]{43}$", a);
        Assert.Equal(UnlockKey.Length, a.Length);
        Assert.NotEqual(a, b);
        Assert.True(UnlockKey.TryParse(a, out var bytes));
        Assert.Equal(32, bytes.Length);
        Assert.True(UnlockKey.TryParse("  " + a + "\n", out _)); // pasted with whitespace
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("SWMKEY-1-")]
    [InlineData("SWMKEY-2-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("SWMTKN-1-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("SWMKEY-1-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]   // 42 characters
    [InlineData("SWMKEY-1-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] // 44
    [InlineData("SWMKEY-1-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")] // padding
    [InlineData("SWMKEY-1-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_")] // URL alphabet
    [InlineData("SWMKEY-1-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!")]
    public void TryParse_RefusesAnythingElse(string? text)
    {
        Assert.False(UnlockKey.TryParse(text, out var key));
        Assert.Null(key);
    }

    [Fact]
    public void DeriveKek_IsDeterministic_AndDiffersFromTheKey()
    {
        Assert.True(UnlockKey.TryParse(UnlockKey.Generate(), out var raw));
        var k1 = UnlockKey.DeriveKek(raw);
        Assert.Equal(k1, UnlockKey.DeriveKek(raw));
        Assert.Equal(32, k1.Length);
        Assert.NotEqual(raw, k1);
    }

    [Fact]
    public void Sealed_OpensOnlyWithItsKey_ItsPurpose_AndUnaltered()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var plain = "-----BEGIN PRIVATE KEY-----\nsecret\n"u8.ToArray();
        var blob = Sealed.Seal(key, Sealed.NodeKeyMagic, plain);
        Assert.Equal(plain, Sealed.Open(key, Sealed.NodeKeyMagic, blob));
        Assert.DoesNotContain("secret", System.Text.Encoding.UTF8.GetString(blob));
        // Another key, another purpose, a flipped bit: refused.
        Assert.ThrowsAny<CryptographicException>(() => Sealed.Open(RandomNumberGenerator.GetBytes(32), Sealed.NodeKeyMagic, blob));
        Assert.ThrowsAny<CryptographicException>(() => Sealed.Open(key, Sealed.DataKeyMagic, blob));
        var altered = (byte[])blob.Clone();
        altered[^1] ^= 1;
        Assert.ThrowsAny<CryptographicException>(() => Sealed.Open(key, Sealed.NodeKeyMagic, altered));
        Assert.ThrowsAny<CryptographicException>(() => Sealed.Open(key, Sealed.NodeKeyMagic, blob.AsSpan(0, 10)));
        // A fresh nonce each time.
        Assert.NotEqual(blob, Sealed.Seal(key, Sealed.NodeKeyMagic, plain));
    }
}
